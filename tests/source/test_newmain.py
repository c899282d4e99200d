"""X.Y.0a0 on main: rules as data, skipped files, What's New skeleton and index."""

from __future__ import annotations

from pathlib import Path

import pytest
from cpython_tree import MAGIC_H, build_tree, snapshot

from relman.errors import UsageError
from relman.source import EditSet, InsertLineRule, ReplaceRule, plan_new_main, prepare_new_main, whatsnew_skeleton
from relman.source.newmain import bump_magic_header, insert_whatsnew_entry, magic_start_for, new_main_context
from relman.version import Version

V = Version.parse


def test_prepare_new_main_edits_and_converges(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    before = snapshot(repo)
    changed = prepare_new_main(repo, V("3.16.0a0"))
    rel = sorted(p.relative_to(repo).as_posix() for p in changed)
    assert "Include/patchlevel.h" not in rel and "README.rst" not in rel  # bump_version's job
    assert "Doc/whatsnew/3.16.rst" in rel and "configure.ac" in rel
    after = snapshot(repo)
    assert "m4_define([PYTHON_VERSION], [3.16])" in after["configure.ac"]
    assert "``python2.7``" in after["Doc/tutorial/interpreter.rst"]  # other versions stay
    assert "python3.15" not in after["Doc/tutorial/interpreter.rst"]
    assert after["Doc/whatsnew/3.15.rst"] == before["Doc/whatsnew/3.15.rst"]
    assert prepare_new_main(repo, V("3.16.0a0")) == []
    assert snapshot(repo) == after


def test_only_a0_is_accepted(tmp_path: Path) -> None:
    build_tree(tmp_path, "3.15.0b1", "+dev")
    with pytest.raises(UsageError, match="X.Y.0a0"):
        prepare_new_main(tmp_path, V("3.16.0a1"))


def test_missing_files_are_reported_and_skipped(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    (repo / "PC/launcher.c").unlink()
    (repo / "configure.ac").unlink()
    edits = EditSet(repo)
    plan_new_main(edits, V("3.16.0a0"))
    skipped = {note.path for note in edits.notes if note.kind == "skipped"}
    assert {"PC/launcher.c", "configure.ac", "PC/pyconfig.h", ".github/ISSUE_TEMPLATE/crash.yml"} <= skipped
    assert sum(1 for note in edits.notes if note.path == "configure.ac") == 1  # one note per missing file
    assert not any(note.path == "configure" for note in edits.notes)  # no regen note without configure.ac
    assert "PC/pyconfig.h.in" in edits.changed()


def test_a_file_whose_text_does_not_match_is_reported(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    (repo / "configure.ac").write_text("AC_INIT([python],[PYTHON_VERSION])\n")
    edits = EditSet(repo)
    plan_new_main(edits, V("3.16.0a0"))
    notes = [n for n in edits.notes if n.path == "configure.ac"]
    assert [n.kind for n in notes] == ["no-match"] and "by hand" in notes[0].message
    assert "configure.ac" not in edits.changed()


def test_rules_are_data(tmp_path: Path) -> None:
    (tmp_path / "versions.txt").write_text("supported: 3.14 3.15\nlegacy: 2.7\n")
    (tmp_path / "list.yml").write_text('- "3.14"\n- "3.15"\n- main\n')
    rules = (
        ReplaceRule("versions.txt", r"supported: .* (?P<v>\d+\.\d+)$", old={"v": "{old_dotted}"},
                    new={"v": "{dotted}"}),
        InsertLineRule("list.yml", anchor=r'^- "{old_dotted}"$', pattern=r'"(?P<v>[\d.]+)"', new={"v": "{dotted}"},
                       present=r'^- "{dotted}"$'),
    )
    changed = prepare_new_main(tmp_path, V("3.16.0a0"), rules=rules)
    assert tmp_path / "versions.txt" in changed
    assert (tmp_path / "versions.txt").read_text() == "supported: 3.14 3.16\nlegacy: 2.7\n"
    assert (tmp_path / "list.yml").read_text() == '- "3.14"\n- "3.15"\n- "3.16"\n- main\n'


def test_magic_header_range_and_define() -> None:
    start = magic_start_for(MAGIC_H, "3.16")
    assert start == 3700
    out, message = bump_magic_header(MAGIC_H, new_main_context(V("3.16.0a0"), start))
    assert "3700" in message
    lines = out.splitlines()
    # inserted after the last entry and its continuation line, with the entries' indentation
    index = lines.index("    Python 3.16a0 3700 (Initial version)")
    assert lines[index - 1].strip() == "ROT_TWO with SWAP)"
    assert "    Python 3.17 will start with 3750" in lines
    assert "Python 3.16 will start with" not in out
    assert lines[-1] == "#define PYC_MAGIC_NUMBER 3700"
    # after the bump, the start can still be read back (for the launcher rule) and nothing repeats
    assert magic_start_for(out, "3.16") == 3700
    assert bump_magic_header(out, new_main_context(V("3.16.0a0"), 3700)) == (out, "up to date")


def test_magic_rules_are_skipped_when_the_range_is_unknown(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    (repo / "Include/internal/pycore_magic_number.h").write_text("#define PYC_MAGIC_NUMBER 3652\n")
    edits = EditSet(repo)
    plan_new_main(edits, V("3.16.0a0"))
    launcher = [n for n in edits.notes if n.path == "PC/launcher.c"]
    assert launcher and launcher[0].kind == "skipped" and "magic_start" in launcher[0].message
    assert "PC/launcher.c" not in edits.changed()


def test_whatsnew_index_insertion() -> None:
    index = ".. toctree::\n   :maxdepth: 2\n\n   3.15.rst\n   3.14.rst\n   changelog.rst\n"
    out = insert_whatsnew_entry(index, "3.16", "3.15")
    assert out == ".. toctree::\n   :maxdepth: 2\n\n   3.16.rst\n   3.15.rst\n   3.14.rst\n   changelog.rst\n"
    assert insert_whatsnew_entry(out, "3.16", "3.15") == out
    # previous version missing: above the newest older one, not simply at the top
    assert insert_whatsnew_entry("  3.17.rst\n  3.13.rst\n", "3.16", "3.15") == "  3.17.rst\n  3.16.rst\n  3.13.rst\n"
    # no X.Y entries at all: the first entry of the toctree, after its options
    assert insert_whatsnew_entry(".. toctree::\n   :maxdepth: 2\n\n   changelog.rst\n", "3.16") == \
        ".. toctree::\n   :maxdepth: 2\n\n   3.16.rst\n   changelog.rst\n"
    with pytest.raises(UsageError, match="toctree"):
        insert_whatsnew_entry("no entries\n", "3.16", "3.15")


def test_whatsnew_note_says_where_the_entry_went(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    index = repo / "Doc/whatsnew/index.rst"
    index.write_text(index.read_text().replace("   3.15.rst\n", ""))  # 3.15 not listed yet
    edits = EditSet(repo)
    plan_new_main(edits, V("3.16.0a0"))
    (note,) = [n for n in edits.notes if n.path == "Doc/whatsnew/index.rst"]
    assert note.message == "listed 3.16.rst above 3.14.rst (3.15.rst is not listed)" and note.kind == "follow-up"
    assert edits.read("Doc/whatsnew/index.rst").index("3.16.rst") < edits.read("Doc/whatsnew/index.rst").index(
        "3.14.rst")


def test_whatsnew_skeleton_has_cpythons_template_shape(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0b1", "+dev")
    prepare_new_main(repo, V("3.16.0a0"))
    text = (repo / "Doc/whatsnew/3.16.rst").read_text()
    lines = text.splitlines()
    assert lines[0] == "" and lines[2] == "  What's new in Python 3.16"
    assert lines[1] == lines[3] == "*" * 28
    assert ":Editor: TBD" in text and "compared to 3.15" in text
    # the maintainers' comment block comes from the previous page in the tree, word for word
    previous = (repo / "Doc/whatsnew/3.15.rst").read_text()
    block = previous[previous.index(".. Rules for maintenance:"):previous.index("This article")]
    assert block in text
    assert "* None yet." in text and "module_name\n-----------\n\n* TODO" in text
    assert ".. Add improved modules above alphabetically, not here at the end." in text
    assert ".. Add C API deprecations above alphabetically, not here at the end." in text
    for heading in ("Summary --- release highlights", "New features", "Other language changes", "New modules",
                    "Improved modules", "Optimizations", "Removed", "Deprecated", "Porting to Python 3.16",
                    "Build changes", "C API changes", "Deprecated C APIs", "Removed C APIs"):
        assert f"\n{heading}\n" in text, heading
    # includes only of the pending-removal pages still ahead of 3.16, then the future one
    includes = [line for line in lines if line.startswith(".. include::")]
    assert includes == [".. include:: ../deprecations/pending-removal-in-3.18.rst",
                        ".. include:: ../deprecations/pending-removal-in-future.rst"]
    for i, line in enumerate(lines):
        if line and set(line) in ({"="}, {"-"}) and i and lines[i - 1]:
            assert len(line) == len(lines[i - 1]), lines[i - 1]


def test_whatsnew_skeleton_without_a_previous_page() -> None:
    text = whatsnew_skeleton(V("3.16.0a0"))
    assert "Rules for maintenance" not in text and "  What's new in Python 3.16" in text
    assert ".. include::" not in text
