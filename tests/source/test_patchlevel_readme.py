"""patchlevel.h and README.rst: rendering, errors for people, atomic writes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cpython_tree import build_tree, patchlevel_h, readme_rst

from relman.cli.main import cli
from relman.errors import UsageError
from relman.source import bump_version, render_constants
from relman.source import edits as edits_module
from relman.source.patchlevel import read_patchlevel_version, replace_constants
from relman.source.readme import UnknownPep, rewrite_readme
from relman.version import Version

V = Version.parse


@pytest.mark.parametrize("version, done, expected_level, expected_string", [
    ("3.14.0b2", False, "PY_RELEASE_LEVEL_BETA", '"3.14.0b2"'),
    ("3.14.0b2", True, "PY_RELEASE_LEVEL_BETA", '"3.14.0b2+"'),
    ("3.15.0b1", True, "PY_RELEASE_LEVEL_BETA", '"3.15.0b1+dev"'),
    ("3.16.0a1", True, "PY_RELEASE_LEVEL_ALPHA", '"3.16.0a1+dev"'),
    ("3.15.0rc2", False, "PY_RELEASE_LEVEL_GAMMA", '"3.15.0rc2"'),
    ("3.13.12", False, "PY_RELEASE_LEVEL_FINAL", '"3.13.12"'),
])
def test_constants_block_values_at_column_32(version: str, done: bool, expected_level: str,
                                             expected_string: str) -> None:
    lines = render_constants(V(version), done=done).splitlines()
    defines = [line for line in lines if line.startswith("#define")]
    assert [line.split()[1] for line in defines] == [
        "PY_MAJOR_VERSION", "PY_MINOR_VERSION", "PY_MICRO_VERSION", "PY_RELEASE_LEVEL", "PY_RELEASE_SERIAL",
        "PY_VERSION"]
    for line in defines:
        assert line[31] == " " and line[32] != " ", line  # value starts at column 32, spaces only
        assert "\t" not in line
    values = {line.split()[1]: line[32:] for line in defines}
    v = V(version)
    assert values["PY_MAJOR_VERSION"] == str(v.major)
    assert values["PY_MINOR_VERSION"] == str(v.minor)
    assert values["PY_MICRO_VERSION"] == str(v.micro)
    assert values["PY_RELEASE_LEVEL"] == expected_level
    assert values["PY_RELEASE_SERIAL"] == str(v.serial)
    assert values["PY_VERSION"] == expected_string
    assert lines[-2] == "/* Version as a string */" and lines[-3] == ""


def test_everything_outside_the_markers_is_kept_byte_for_byte() -> None:
    text = patchlevel_h("3.15.0a5", "+dev").replace("\n", "\r\n")
    out = replace_constants(text, V("3.15.0a6"))
    before, _, rest = text.partition("/*--start constants--*/")
    after = rest.partition("/*--end constants--*/")[2]
    assert out.startswith(before + "/*--start constants--*/\r\n")
    assert out.endswith("/*--end constants--*/" + after)
    assert "\r\n" in out and "\n" not in out.replace("\r\n", "")
    assert read_patchlevel_version(out) == "3.15.0a6"


@pytest.mark.parametrize("drop, named", [
    ("/*--start constants--*/", ["/*--start constants--*/"]),
    ("/*--end constants--*/", ["/*--end constants--*/"]),
    (None, ["/*--start constants--*/", "/*--end constants--*/"]),
])
def test_missing_marker_is_a_usage_error_naming_file_and_marker(tmp_path: Path, drop: str | None,
                                                                named: list[str]) -> None:
    repo = build_tree(tmp_path, "3.15.0a5", "+dev")
    header = repo / "Include/patchlevel.h"
    text = header.read_text()
    for marker in ([drop] if drop else ["/*--start constants--*/", "/*--end constants--*/"]):
        text = text.replace(marker + "\n", "")
    header.write_text(text)
    readme_before = (repo / "README.rst").read_text()

    result = CliRunner().invoke(cli, ["bump", "3.15.0a6", "--repo", str(repo)])
    assert result.exit_code == 2
    assert str(header) in result.stderr
    for marker in named:
        assert marker in result.stderr
    assert "Traceback" not in result.output + result.stderr
    # Nothing was written: the failure came while planning.
    assert header.read_text() == text
    assert (repo / "README.rst").read_text() == readme_before


def test_end_marker_before_start_marker(tmp_path: Path) -> None:
    text = "/*--end constants--*/\n#define PY_VERSION \"1\"\n/*--start constants--*/\n"
    with pytest.raises(UsageError, match="comes before"):
        replace_constants(text, V("3.15.0a1"))


def test_json_error_document_on_missing_marker(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0a5", "+dev")
    (repo / "Include/patchlevel.h").write_text("#define PY_VERSION \"3.15.0a5\"\n")
    # A real process: the error renderer looks at the process's own arguments for --json.
    result = subprocess.run([sys.executable, "-c", "from relman.cli.main import main; main()",
                             "bump", "3.15.0a6", "--repo", str(repo), "--json"], capture_output=True, text=True)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2 and "start constants" in document["error"]
    assert document["where"] == str(repo / "Include/patchlevel.h")


def test_readme_title_underline_and_trailing_newline() -> None:
    text = readme_rst("3.14.0a3", "")
    out = rewrite_readme(text, V("3.14.0a6"), release_cycle={"3.14": {"pep": 745}})
    lines = out.splitlines()
    assert lines[0] == "This is Python version 3.14.0 alpha 6"
    assert lines[1] == "=" * 37
    assert out.endswith("release details.\n")
    assert out.count("\n") == text.count("\n")
    no_newline = rewrite_readme(text.rstrip("\n"), V("3.14.0a6"))
    assert not no_newline.endswith("\n")


def test_readme_links_move_to_the_new_feature_version_with_the_pep_from_schedule_data() -> None:
    text = readme_rst("3.14.2", "+", pep="745")
    out = rewrite_readme(text, V("3.15.1"), release_cycle={"3.15": {"pep": 790}})
    assert "This is Python version 3.15.1\n=============================\n" in out
    assert "3.15 <https://docs.python.org/3.15/whatsnew/3.15.html>`_" in out
    assert "`Documentation for Python 3.15 <https://docs.python.org/3.15/>`_" in out
    assert "`PEP 790 <https://peps.python.org/pep-0790/>`__ for Python 3.15" in out
    assert "3.14" not in out


def test_readme_pep_unknown() -> None:
    text = readme_rst("3.15.0a1", "+dev", pep="790")
    same = rewrite_readme(text, V("3.15.0a2"), release_cycle=None)
    assert "`PEP 790 <https://peps.python.org/pep-0790/>`__ for Python 3.15" in same  # kept for the same X.Y
    with pytest.raises(UnknownPep) as raised:
        rewrite_readme(text, V("3.16.0a0"), release_cycle={"3.15": {"pep": 790}})
    assert "PEP for Python 3.16 is not known" in str(raised.value) and "README.rst:" in raised.value.where
    assert "--release-cycle" in raised.value.hint and "release_peps" in raised.value.hint
    placeholder = text.replace("PEP 790 <https://peps.python.org/pep-0790/>", "PEP TODO <https://peps.python.org/pep-TODO/>")
    with pytest.raises(UnknownPep):  # a placeholder already there is not kept either
        rewrite_readme(placeholder, V("3.15.0a2"), release_cycle=None)
    new = rewrite_readme(text, V("3.16.0a0"), release_cycle={"3.16": {"pep": 826}})
    later = rewrite_readme(new, V("3.16.0a1"), release_cycle={"3.16": {"pep": "826"}})
    assert "`PEP 826 <https://peps.python.org/pep-0826/>`__ for Python 3.16" in later
    small = rewrite_readme(text, V("3.15.0a2"), release_cycle={"3.15": {"pep": 42}})
    assert "`PEP 42 <https://peps.python.org/pep-0042/>`__" in small


@pytest.mark.parametrize("version, title", [
    ("3.14.2", "This is Python version 3.14.2+"),
    ("3.14.0b2", "This is Python version 3.14.0 beta 2+"),
    ("3.15.1", "This is Python version 3.15.1+dev"),
    ("3.16.0a1", "This is Python version 3.16.0 alpha 1+dev"),
])
def test_readme_done_changes_only_the_title(version: str, title: str) -> None:
    text = readme_rst("3.13.0", "", pep="719")  # deliberately another X.Y: links must not move
    out = rewrite_readme(text, V(version), done=True, release_cycle={"3.16": {"pep": 1}})
    lines, old = out.splitlines(keepends=True), text.splitlines(keepends=True)
    assert lines[0] == title + "\n"
    assert lines[1] == "=" * len(title) + "\n"
    assert lines[2:] == old[2:]


def test_readme_without_underline_gets_one() -> None:
    out = rewrite_readme("This is Python version 3.15.0\n\nText.\n", V("3.15.1"))
    assert out == "This is Python version 3.15.1\n=============================\n\nText.\n"


def test_readme_with_a_foreign_first_line_is_refused(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0a5", "+dev")
    (repo / "README.rst").write_text("My project\n==========\n")
    result = CliRunner().invoke(cli, ["bump", "3.15.0a6", "--repo", str(repo)])
    assert result.exit_code == 2
    assert "README.rst:1" in result.stderr and "This is Python version" in result.stderr


def test_bump_version_returns_changed_paths_and_keeps_file_mode(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0a5", "+dev")
    header = repo / "Include/patchlevel.h"
    os.chmod(header, 0o640)
    changed = bump_version(repo, V("3.15.0a6"))
    assert changed == [repo / "Include/patchlevel.h", repo / "README.rst"]
    assert stat.S_IMODE(header.stat().st_mode) == 0o640
    assert '"3.15.0a6"' in header.read_text()
    assert bump_version(repo, V("3.15.0a6")) == []
    assert not list(repo.rglob("*.relman-tmp"))


def test_a_failed_write_leaves_the_original_and_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    repo = build_tree(tmp_path, "3.15.0a5", "+dev")
    header = repo / "Include/patchlevel.h"
    original = header.read_text()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(edits_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        bump_version(repo, V("3.15.0a6"))
    assert header.read_text() == original
    assert not list(repo.rglob("*.relman-tmp"))


def test_edit_set_diff_marks_missing_final_newlines_like_git(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\ny")
    edits = edits_module.EditSet(tmp_path)
    edits.write("a.txt", "x\nz")
    edits.write("new.txt", "fresh\n")
    assert edits.diff() == ("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n"
                            "+z\n\\ No newline at end of file\n"
                            "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh\n")
    assert edits.created() == ["new.txt"]
    assert (tmp_path / "a.txt").read_text() == "x\ny"  # planning writes nothing
