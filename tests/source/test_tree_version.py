"""The version transition reads the tree first (patchlevel.h, a package's version file); tags cross-check."""

from __future__ import annotations

from pathlib import Path

import pytest
from cpython_tree import build_tree

from relman.errors import VersionError
from relman.source.generic import VersionFile
from relman.source.treeversion import (check_cpython_transition, check_generic_transition,
                                       read_cpython_tree_version, read_generic_tree_version)
from relman.version import Version

V = Version.parse


def tree_at(tmp_path: Path, version: str, suffix: str):
    build_tree(tmp_path, version, suffix)
    return read_cpython_tree_version(tmp_path)


@pytest.mark.parametrize(("tree", "suffix", "target"), [
    ("3.15.0a2", "+dev", "3.15.0a3"),      # the case: no tags at all
    ("3.15.0a2", "+dev", "3.15.0b1"),
    ("3.14.0b3", "+", "3.14.0rc1"),        # before 3.15 the suffix is "+"
    ("3.14.0rc2", "+", "3.14.0"),
    ("3.14.2", "+", "3.14.3"),
    ("3.16.0a0", "", "3.16.0a1"),          # a new main after beta 1
    ("3.15.0a3", "", "3.15.0a3"),          # bumped already, not yet tagged
])
def test_valid_next_release_without_any_tags(tmp_path, tree, suffix, target):
    result = check_cpython_transition(V(target), tree_at(tmp_path, tree, suffix), [])
    assert result["source"] == "tree" and target in result["allowed"]


@pytest.mark.parametrize(("tree", "suffix", "target", "message"), [
    ("3.15.0a2", "+dev", "3.15.0a4", "cannot follow 3.15.0a2, the version in Include/patchlevel.h (3.15.0a2+dev)"),
    ("3.15.0a2", "+dev", "3.15.0rc1", "cannot follow 3.15.0a2"),
    ("3.15.0a2", "+dev", "3.14.5", "not in the series of the tree"),
    ("3.16.0a0", "", "3.16.0a2", "cannot follow Include/patchlevel.h (3.16.0a0)"),
])
def test_invalid_next_release_names_the_tree(tmp_path, tree, suffix, target, message):
    with pytest.raises(VersionError) as raised:
        check_cpython_transition(V(target), tree_at(tmp_path, tree, suffix), [])
    assert message in str(raised.value)
    assert "valid next versions" in (raised.value.hint or "") or "release one of" in (raised.value.hint or "")


def test_tags_that_agree_are_only_a_cross_check(tmp_path):
    tree = tree_at(tmp_path, "3.15.0a2", "+dev")
    result = check_cpython_transition(V("3.15.0a3"), tree, ["v3.15.0a1", "v3.15.0a2", "v3.14.0", "unrelated"])
    assert result["latest_tag"] == "v3.15.0a2"


@pytest.mark.parametrize(("tags", "latest"), [(["v3.15.0a1"], "v3.15.0a1"), (["v3.15.0a1", "v3.15.0a2", "v3.15.0a3"],
                                                                               "v3.15.0a3")])
def test_tags_that_disagree_name_both(tmp_path, tags, latest):
    tree = tree_at(tmp_path, "3.15.0a2", "+dev")
    with pytest.raises(VersionError) as raised:
        check_cpython_transition(V("3.15.0a4" if latest.endswith("a3") else "3.15.0a3"), tree, tags)
    text = str(raised.value)
    assert "disagree" in text and "Include/patchlevel.h says 3.15.0a2+dev" in text and latest in text
    assert "git fetch --tags" in raised.value.hint


def test_an_existing_tag_of_the_version_is_refused(tmp_path):
    tree = tree_at(tmp_path, "3.15.0a3", "")
    with pytest.raises(VersionError, match="already released: tag v3.15.0a3"):
        check_cpython_transition(V("3.15.0a3"), tree, ["v3.15.0a2", "v3.15.0a3"])


def test_no_patchlevel_falls_back_to_tags(tmp_path):
    assert read_cpython_tree_version(tmp_path) is None
    with pytest.raises(VersionError, match="cannot be the first 3.15 release"):
        check_cpython_transition(V("3.15.0a3"), None, [])
    assert check_cpython_transition(V("3.15.0a3"), None, ["v3.15.0a2"]) == {"source": "tags"}


def test_generic_profile_reads_its_version_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1.4.0.dev0"\n')
    rules = [VersionFile("pyproject.toml", key="project.version")]
    tree = read_generic_tree_version(tmp_path, rules)
    assert tree is not None and tree.base == "1.4.0" and tree.development
    assert check_generic_transition(V("1.4.0"), tree, [])["source"] == "tree"
    with pytest.raises(VersionError, match="older than the tree's version: pyproject.toml says 1.4.0.dev0"):
        check_generic_transition(V("1.3.9"), tree, [])
    with pytest.raises(VersionError, match="disagree: pyproject.toml says 1.4.0.dev0, but tag v1.5.0"):
        check_generic_transition(V("1.6.0"), tree, ["v1.5.0"])
