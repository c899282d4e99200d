"""blurb-compatible news: fragments under `Misc/NEWS.d/next/`, version files, and `Misc/NEWS`.

Public API (what the release pipeline calls)::

    write_fragment(news_dir, section, issue, text, *, when=None, nonce=None, cve=None) -> Path
    check_news(news_dir) -> list[Problem]
    release_news(news_dir, version, *, date=None) -> Path
    merge_news(news_dir, output=None, *, version_hint=None) -> str

Output is byte-identical to blurb 2.3.0; see docs/news.md.
"""

from .api import (NewsError, ReleaseResult, check_news, merge_news, release, release_news,
                  write_fragment)
from .fragments import Entry, Problem, nonce_for, parse_entries
from .sections import SECTIONS
from .tree import find_news_dir
from .wrap import wrap_body

__all__ = ["SECTIONS", "Entry", "NewsError", "Problem", "ReleaseResult", "check_news", "find_news_dir",
           "merge_news", "nonce_for", "parse_entries", "release", "release_news", "wrap_body",
           "write_fragment"]
