"""The facts an announcement is made of, gathered once from the release itself.

`release_facts(...)` is the one place that decides what an announcement says: the version and
its long name, the release date, highlights and the number of changes per section from the
news merged for the release, the links (release page, downloads, changelog), the checksums of
the files, the release manager, and the next scheduled release. The release workflow's
announce step and `relman announce` both call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..config import AnnounceSettings
from ..news.fragments import parse_entries
from ..news.sections import SECTIONS, SECURITY
from ..schedule.cycle import ReleaseCycle
from ..version import Version

_ROLE = re.compile(r":[\w:.+-]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")
_COMPANIONS = (".asc", ".sig", ".sigstore", ".sigstore.json", ".crt", ".spdx.json")   # listed with their file
_PATCH_BY = re.compile(r"\s*(Patch|Contributed|Initial patch) by [^.]*\.?\s*$")


def plain_sentence(body: str, limit: int = 160) -> str:
    """The first sentence of a news entry, without reST roles: a highlight."""
    text = " ".join(body.split())
    text = _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))
    text = _PATCH_BY.sub("", text)
    match = re.search(r"(?<=[.!?])\s", text)
    if match:
        text = text[:match.start()]
    if len(text) > limit:
        text = text[:limit - 1].rsplit(" ", 1)[0] + "…"
    return text


@dataclass
class NewsSummary:
    changes: list[tuple[str, int]] = field(default_factory=list)   # (section, count), CPython's order
    highlights: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.changes)


def summarise_news(text: str | None, *, limit: int = 5, where: str = "news") -> NewsSummary:
    """Count the entries per section and pick highlights (security fixes first)."""
    if not text:
        return NewsSummary()
    entries, _problems = parse_entries(text, where)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.section] = counts.get(entry.section, 0) + 1
    order = {name: i for i, name in enumerate(SECTIONS)}
    changes = sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    ranked = sorted(entries, key=lambda e: (e.section != SECURITY, order.get(e.section, len(order))))
    highlights = [plain_sentence(e.body) for e in ranked[:limit] if e.body.strip()]
    issues = [e.metadata.get("gh-issue", "") for e in entries if e.metadata.get("gh-issue")]
    return NewsSummary(changes, highlights, issues)


@dataclass
class ReleaseFacts:
    project: str
    version: str
    long_name: str
    nickname: str
    series: str                       # "3.14"
    tag: str
    commit: str | None
    release_date: str                 # YYYY-MM-DD
    prerelease: bool
    release_manager: str | None
    release_page: str
    downloads_url: str
    changelog_url: str
    files: list[dict[str, Any]] = field(default_factory=list)      # name, size, sha256 (label)
    changes: list[tuple[str, int]] = field(default_factory=list)
    total_changes: int = 0
    highlights: list[str] = field(default_factory=list)
    next_release: dict[str, str] | None = None                     # stage, date
    handoff_drop: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def files_from_dir(directory: Path) -> list[dict[str, Any]]:
    """Name, size and SHA-256 of the release files, from the folder's SHA256SUMS."""
    sums = Path(directory) / "SHA256SUMS"
    if not sums.is_file():
        return []
    files = []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        name = name.lstrip("*").strip()
        path = Path(directory) / name
        if digest and name:
            files.append({"name": name, "sha256": digest, "size": path.stat().st_size if path.is_file() else None})
    return files


def release_facts(version: Version | str, *, project: str, settings: AnnounceSettings, release_date: date,
                  files: Iterable[Mapping[str, Any]] = (), news_text: str | None = None, commit: str | None = None,
                  cycle: ReleaseCycle | None = None, highlights: int = 5) -> ReleaseFacts:
    v = Version.parse(str(version))
    fmt = {"version": v.text, "nickname": v.nickname, "xy": v.basic_version, "tag": v.git_tag}
    news = summarise_news(news_text, limit=highlights)
    branch = cycle.for_version(v) if cycle else None
    nxt = cycle.next_after(v) if cycle else None
    listed = [f for f in files if f.get("name") != "SHA256SUMS" and not str(f.get("name")).endswith(_COMPANIONS)]
    return ReleaseFacts(
        project=project, version=v.text, long_name=v.long_name, nickname=v.nickname, series=v.basic_version,
        tag=v.git_tag, commit=commit, release_date=release_date.isoformat(), prerelease=v.is_prerelease,
        release_manager=settings.release_manager or (branch.release_manager if branch else None),
        release_page=settings.release_page.format(**fmt), downloads_url=settings.downloads_url.format(**fmt),
        changelog_url=settings.changelog_url.format(**fmt),
        files=[{"name": f["name"], "size": f.get("size"), "sha256": f["sha256"], "label": f.get("label")}
               for f in listed],
        changes=news.changes, total_changes=news.total, highlights=news.highlights,
        next_release={"stage": nxt.stage, "date": nxt.date.isoformat()} if nxt else None,
        handoff_drop=settings.handoff_drop)
