"""Names and order: sections, folders, version ordering and headings, against blurb's own rules."""

from __future__ import annotations

import random

import pytest

from conftest import require_module

from relman.news.sections import SECTIONS, folder_name, resolve_section, section_of_folder
from relman.news.tree import find_news_dir, printable_version, version_sort_key

blurb_versions = require_module("blurb._versions")
blurb_template = require_module("blurb._template")

NAMES = ["next", "2.7.18", "3.5", "3.9.0", "3.10.0a1", "3.10.0a7", "3.10.0b1", "3.10.0rc2", "3.10.0",
         "3.10.12", "3.14.0a1", "3.14.0b4", "3.14.0rc1", "3.14.0", "3.15.0a8", "3.100.0"]


def test_sections_and_folders_are_blurbs():
    assert list(SECTIONS) == blurb_template.sections
    for section in SECTIONS:
        assert folder_name(section) == blurb_template.sanitize_section(section)
        assert section_of_folder(folder_name(section)) == section
        assert section_of_folder(blurb_template.sanitize_section_legacy(section)) == section
    assert section_of_folder("Libary") is None


@pytest.mark.parametrize("typed, section", [("library", "Library"), ("C_API", "C API"), ("c api", "C API"),
                                             ("tools-demos", "Tools/Demos"), ("Tools/Demos", "Tools/Demos"),
                                             ("unsupported_platforms", "Unsupported platforms")])
def test_resolve_section_accepts_what_people_type(typed, section):
    assert resolve_section(typed) == section


def test_version_order_and_headings_match_blurb():
    shuffled = NAMES[:]
    random.Random(5).shuffle(shuffled)
    assert sorted(shuffled, key=version_sort_key, reverse=True) == \
        sorted(shuffled, key=blurb_versions.version_key, reverse=True)
    for name in NAMES:
        assert printable_version(name) == blurb_versions.printable_version(name)
    assert printable_version("3.14.0rc2") == "3.14.0 release candidate 2"
    assert printable_version("3.14.0") == "3.14.0 final"


def test_find_news_dir_walks_up(tmp_path, monkeypatch):
    news = tmp_path / "repo" / "Misc" / "NEWS.d"
    (news / "next" / "Library").mkdir(parents=True)
    assert find_news_dir(news / "next" / "Library") == news
    assert find_news_dir(tmp_path / "repo") == news
    monkeypatch.chdir(tmp_path / "repo" / "Misc")
    assert find_news_dir() == news
