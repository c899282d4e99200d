"""`next` → doc version in the version directives under Doc/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cpython_tree import build_tree, snapshot

from relman.source import DIRECTIVES, replace_doc_next, replace_next

CHANGED = [
    (".. versionadded:: next", ".. versionadded:: 3.15"),
    (".. versionchanged:: next", ".. versionchanged:: 3.15"),
    (".. versionremoved:: next", ".. versionremoved:: 3.15"),
    (".. deprecated:: next", ".. deprecated:: 3.15"),
    ("   .. deprecated-removed:: next 3.17", "   .. deprecated-removed:: 3.15 3.17"),
    (".. versionadded:: next as ``x``", ".. versionadded:: 3.15 as ``x``"),
    ("\t.. versionchanged::   next", "\t.. versionchanged::   3.15"),
    (".. versionadded::next", ".. versionadded::3.15"),
    ("..   versionchanged ::  next  The *x* argument.", "..   versionchanged ::  3.15  The *x* argument."),
    (".. deprecated:: next\r", ".. deprecated:: 3.15\r"),
]
UNCHANGED = [
    ".. versionadded:: NEXT",
    "..versionchanged:: next",
    "... versionchanged:: next",
    "foo .. versionchanged:: next",
    ".. otherdirective:: next",
    ".. deprecated-removed: 3.0 next",
    ".. deprecated-removed:: 3.0 next",
    ".. versionadded:: nextgen",
    ".. versionadded:: 3.14  next",
    "versionadded:: next",
]


@pytest.mark.parametrize("before, after", CHANGED)
def test_directive_forms_that_change(before: str, after: str) -> None:
    assert replace_next(before, "3.15") == (after, 1)
    # and the same inside a document, with text around it
    text = f"Intro.\n\n{before}\n   Body.\n"
    assert replace_next(text, "3.15") == (f"Intro.\n\n{after}\n   Body.\n", 1)


@pytest.mark.parametrize("line", UNCHANGED)
def test_forms_left_alone(line: str) -> None:
    assert replace_next(line + "\n", "3.15") == (line + "\n", 0)


def test_every_directive_is_covered() -> None:
    text = "".join(f".. {name}:: next\n" for name in DIRECTIVES)
    out, count = replace_next(text, "3.14.3")
    assert count == len(DIRECTIVES)
    assert "next" not in out


def test_tree_replacement_only_under_doc_and_only_changed_files(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b3", "+dev")
    (repo / "Doc/library/extra.rst").write_text(".. versionchanged:: next\n   Something.\n")
    (repo / "Doc/library/notes.txt").write_text(".. versionadded:: next\n")
    plain = repo / "Doc/library/plain.rst"
    os.utime(plain, (1_000_000, 1_000_000))
    before = snapshot(repo)

    changed = replace_doc_next(repo, "3.15")

    assert changed == [repo / "Doc/library/extra.rst", repo / "Doc/library/spam.rst"]
    after = snapshot(repo)
    assert after["Doc/library/extra.rst"] == ".. versionchanged:: 3.15\n   Something.\n"
    assert ".. deprecated-removed:: 3.15 3.20" in after["Doc/library/spam.rst"]
    for untouched in ("Doc/library/notes.txt", "Doc/build/html/_sources/spam.rst",
                      "Doc/venv/lib/site-packages/pkg/README.rst", "Doc/.git/stray.rst",
                      "Misc/NEWS.d/next/Library/2025-01-01-00-00-00.gh-issue-1.abc.rst"):
        assert after[untouched] == before[untouched] and "next" in after[untouched], untouched
    assert plain.stat().st_mtime == 1_000_000  # not rewritten
    assert replace_doc_next(repo, "3.15") == []


def test_other_roots_can_be_named(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b3", "+dev")
    news = "Misc/NEWS.d/next/Library/2025-01-01-00-00-00.gh-issue-1.abc.rst"
    changed = replace_doc_next(repo, "3.15", roots=("Misc",))
    assert changed == [repo / news]
    assert (repo / news).read_text() == ".. versionadded:: 3.15\n"


def test_a_repo_without_doc_changes_nothing(tmp_path: Path) -> None:
    assert replace_doc_next(tmp_path, "3.15") == []
