"""Names and order: sections, folders, version ordering and headings, against blurb 2.3.0 run as a
program: `blurb merge` on a checkout built for the purpose, whose headings and order relman's
merge must give byte for byte."""

from __future__ import annotations

import random
import re

import pytest

from relman.news import merge_news
from relman.news.sections import SECTIONS, folder_name, legacy_folder_name, resolve_section, section_of_folder
from relman.news.tree import find_news_dir, printable_version, version_sort_key

from .peer import blurb_merge, empty_checkout

NAMES = ["next", "2.7.18", "3.5", "3.9.0", "3.10.0a1", "3.10.0a7", "3.10.0b1", "3.10.0rc2", "3.10.0",
         "3.10.12", "3.14.0a1", "3.14.0b4", "3.14.0rc1", "3.14.0", "3.15.0a8", "3.100.0",
         # two-digit serials and fields, against text order; a version of two fields; 2.x after 3.x
         "3.9.0a10", "3.9.0a2", "3.14.0b10", "3.14.0rc10", "3.9.10", "3.0", "2.7"]
VERSION_HEADING = re.compile(r"^What's New in Python (.*)\?\n(=+)$", re.M)
SECTION_HEADING = re.compile(r"^(\S.*)\n(-+)$", re.M)


def sections_in(merged: str) -> dict[str, str]:
    """Each section heading of the first version in `merged`, in order, with the text under it."""
    first = merged.split("\n\n\nWhat's New in Python ")[0]
    found = list(SECTION_HEADING.finditer(first))
    assert all(len(match[1]) == len(match[2]) for match in found)
    return {match[1]: first[match.end():found[index + 1].start() if index + 1 < len(found) else None]
            for index, match in enumerate(found)}


def test_sections_and_folders_are_blurbs(tmp_path):
    """A fragment in every section's folder and in its legacy spelling: blurb merges each under
    its section, the sections in relman's order (blurb skips a folder it does not know)."""
    root = tmp_path / "cpython"
    news = empty_checkout(root)
    expected = {}
    for index, section in enumerate(SECTIONS):
        folders = {folder_name(section): "modern", legacy_folder_name(section): "legacy"}  # one, or two
        expected[section] = []
        for folder, spelling in folders.items():
            names = [f"2025-01-01-00-00-{index:02d}.gh-issue-{135000 + index}.{spelling}.rst"]
            if len(folders) == 2:  # the same file name in both folders too
                names.append("2024-01-01-00-00-00.gh-issue-140000.same.rst")
            (news / "next" / folder).mkdir(exist_ok=True)
            for name in names:
                text = f"From the {folder!r} folder, {name.split('.')[2]}."
                (news / "next" / folder / name).write_text(text + "\n")
                expected[section].append(text)
    (news / "next" / "Libary").mkdir()
    (news / "next" / "Libary" / "2025-01-01-00-00-00.gh-issue-139999.typo.rst").write_text("Never merged.\n")

    theirs = blurb_merge(root)
    assert merge_news(news).encode() == theirs
    merged = sections_in(theirs.decode())
    assert list(merged) == list(SECTIONS)
    for section, texts in expected.items():  # (their order: the bytes above)
        assert sorted(line.split(": ", 1)[1] for line in merged[section].splitlines() if line.startswith("- ")) \
            == sorted(texts)
    assert b"Never merged" not in theirs

    for section in SECTIONS:
        assert section_of_folder(folder_name(section)) == section
        assert section_of_folder(legacy_folder_name(section)) == section
    assert section_of_folder("Libary") is None


@pytest.mark.parametrize("typed, section", [("library", "Library"), ("C_API", "C API"), ("c api", "C API"),
                                             ("tools-demos", "Tools/Demos"), ("Tools/Demos", "Tools/Demos"),
                                             ("unsupported_platforms", "Unsupported platforms")])
def test_resolve_section_accepts_what_people_type(typed, section):
    assert resolve_section(typed) == section


def test_version_order_and_headings_match_blurb(tmp_path):
    """A version file for each awkward name (and a next/ fragment): blurb's "What's New" headings,
    in its order, are relman's printable names in relman's order."""
    root = tmp_path / "cpython"
    news = empty_checkout(root)
    shuffled = NAMES[:]
    random.Random(5).shuffle(shuffled)
    for name in shuffled:
        if name == "next":
            (news / "next" / "Library" / "2025-01-01-00-00-00.gh-issue-135000.nextOn.rst").write_text("Next.\n")
        else:
            (news / f"{name}.rst").write_text(f".. gh-issue: 135000\n.. release date: 2020-01-01\n"
                                              f".. section: Library\n\nIn {name}.\n")
    theirs = blurb_merge(root)
    assert merge_news(news).encode() == theirs
    headings = VERSION_HEADING.findall(theirs.decode())
    assert all(len(underline) == len(f"What's New in Python {name}?") for name, underline in headings)
    assert [name for name, _ in headings] == \
        [printable_version(name) for name in sorted(shuffled, key=version_sort_key, reverse=True)]
    assert printable_version("3.14.0rc2") == "3.14.0 release candidate 2"
    assert printable_version("3.14.0") == "3.14.0 final"


def test_find_news_dir_walks_up(tmp_path, monkeypatch):
    news = tmp_path / "repo" / "Misc" / "NEWS.d"
    (news / "next" / "Library").mkdir(parents=True)
    assert find_news_dir(news / "next" / "Library") == news
    assert find_news_dir(tmp_path / "repo") == news
    monkeypatch.chdir(tmp_path / "repo" / "Misc")
    assert find_news_dir() == news
