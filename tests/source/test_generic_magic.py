"""The generic package profile and the magic-number pre-flight check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cpython_tree import MAGIC_H, build_tree

from relman.cli.main import cli
from relman.errors import CheckFailed, ConfigError, UsageError
from relman.source import VersionFile, bump_generic, check_magic_number, default_version_files

PYPROJECT = """\
# Build settings; keep this comment.
[build-system]
requires = ["setuptools>=68"]

[project]
name = "spam"
version = "1.3.0"   # bumped by relman
description = "Spam"

[tool.other]
version = "9.9.9"
"""

INIT = '''"""Spam."""

__version__ = "1.3.0"
VERSION_TUPLE = (1, 3, 0)
'''


def make_package(root: Path) -> Path:
    (root / "src/spam").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src/spam/__init__.py").write_text(INIT)
    return root


def test_generic_bump_keeps_formatting(tmp_path: Path) -> None:
    repo = make_package(tmp_path)
    changed = bump_generic(repo, "1.4.0rc1", default_version_files("spam"))
    assert changed == [repo / "pyproject.toml", repo / "src/spam/__init__.py"]
    assert (repo / "pyproject.toml").read_text() == PYPROJECT.replace('version = "1.3.0"', 'version = "1.4.0rc1"')
    assert (repo / "src/spam/__init__.py").read_text() == INIT.replace('"1.3.0"', '"1.4.0rc1"')
    assert bump_generic(repo, "1.4.0rc1", default_version_files("spam")) == []


def test_generic_rules_from_config_mappings(tmp_path: Path) -> None:
    repo = make_package(tmp_path)
    (repo / "VERSION").write_text("release 1.3.0 (stable)\n")
    rules = [{"path": "pyproject.toml"}, {"path": "VERSION", "pattern": r"^release (\S+) "},
             {"path": "src/spam/__init__.py", "pattern": r'^__version__ = "(?P<version>[^"]+)"'}]
    bump_generic(repo, "2.0.0", rules)
    assert (repo / "VERSION").read_text() == "release 2.0.0 (stable)\n"
    assert 'version = "2.0.0"' in (repo / "pyproject.toml").read_text()
    assert 'version = "9.9.9"' in (repo / "pyproject.toml").read_text()


def test_generic_errors_are_for_people(tmp_path: Path) -> None:
    repo = make_package(tmp_path)
    with pytest.raises(UsageError, match="not a valid PEP 440"):
        bump_generic(repo, "one.two", default_version_files("spam"))
    with pytest.raises(UsageError, match="does not exist"):
        bump_generic(repo, "1.4.0", [VersionFile("src/eggs/__init__.py", pattern=r"(\d+)")])
    with pytest.raises(UsageError, match="matches nothing"):
        bump_generic(repo, "1.4.0", [VersionFile("src/spam/__init__.py", pattern=r'__version__ = (\d+)$')])
    with pytest.raises(ConfigError, match="no group"):
        VersionFile("x.py", pattern=r"\d+")
    with pytest.raises(ConfigError, match="exactly one"):
        VersionFile("x.py")
    with pytest.raises(ConfigError, match="unknown setting"):
        bump_generic(repo, "1.4.0", [{"path": "x.py", "regex": "(.)"}])
    (repo / "pyproject.toml").write_text('[project]\nname = "spam"\ndynamic = ["version"]\n')
    with pytest.raises(UsageError) as info:
        # the __init__.py rule plans a change first; the failing pyproject rule must stop it being written
        bump_generic(repo, "1.4.0", default_version_files("spam")[::-1])
    assert "dynamic" in str(info.value)
    assert (repo / "src/spam/__init__.py").read_text() == INIT


def test_generic_profile_from_the_cli(tmp_path: Path) -> None:
    repo = make_package(tmp_path)
    result = CliRunner().invoke(cli, ["bump", "1.4.0", "--repo", str(repo), "--package", "spam", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profile"] == "generic"
    assert report["changed"] == ["pyproject.toml", "src/spam/__init__.py"]
    result = CliRunner().invoke(cli, ["bump", "1.5.0", "--repo", str(repo),
                                      "--file", 'src/spam/__init__.py::__version__ = "(?P<version>[^"]+)"'])
    assert result.exit_code == 0, result.output
    header, changed = result.stdout.strip().splitlines()
    assert header.startswith("bump to 1.5.0 (profile generic) in ") and changed == "changed: src/spam/__init__.py"
    assert 'version = "1.4.0"' in (repo / "pyproject.toml").read_text()
    bad = CliRunner().invoke(cli, ["bump", "1.5.0", "--repo", str(repo), "--file", "setup.cfg"])
    assert bad.exit_code == 2 and "PATH::REGEX" in bad.stderr


# ---- magic number --------------------------------------------------------------------------

def test_magic_numbers_agree(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0rc1", expected_magic=3652)
    check = check_magic_number(repo)
    assert check.status == "match" and check.ok and check.applicable
    assert check.actual == check.expected == 3652
    line = MAGIC_H.splitlines().index("#define PYC_MAGIC_NUMBER 3652") + 1
    assert check.actual_file == f"Include/internal/pycore_magic_number.h:{line}"
    assert check.expected_file == "Lib/test/test_importlib/test_util.py:3"


def test_magic_numbers_disagree(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0rc1", expected_magic=3495)
    check = check_magic_number(repo)
    assert check.status == "mismatch" and not check.ok
    assert (check.actual, check.expected) == (3652, 3495)
    assert "3652" in check.message and "3495" in check.message
    assert "pycore_magic_number.h" in check.message and "test_util.py" in check.message
    assert check.as_dict()["ok"] is False


def test_magic_check_not_applicable(tmp_path: Path) -> None:
    check = check_magic_number(tmp_path)
    assert check.status == "not-applicable" and check.ok and not check.applicable
    repo = build_tree(tmp_path / "r", "3.13.1")
    (repo / "Lib/test/test_importlib/test_util.py").unlink()
    check = check_magic_number(repo)
    assert check.status == "not-applicable" and "test_util.py" in check.message


def test_magic_check_unreadable_file(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, "3.15.0rc1")
    (repo / "Lib/test/test_importlib/test_util.py").write_text("nothing here\n")
    with pytest.raises(CheckFailed, match="EXPECTED_MAGIC_NUMBER"):
        check_magic_number(repo)
