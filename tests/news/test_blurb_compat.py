"""Byte-identical output with the real blurb 2.3.0, on generated trees of many shapes.

Each test builds a CPython-shaped git checkout, copies it, runs `blurb merge -f` and
`blurb release V` on one copy and relman on the other, and compares the bytes (and which
files are left under Misc/NEWS.d).
"""

from __future__ import annotations

import pytest

from relman.news import merge_news, release_news
from relman.news.synthetic import make_tree

from .edge_tree import make_edge_tree
from .peer import files_under, release_date_of, run_blurb, twin


def assert_same_as_blurb(tree, tmp_path, version: str) -> None:
    theirs, ours = twin(tree, tmp_path)
    run_blurb(theirs, "merge", "-f")
    merged = merge_news(ours / "Misc" / "NEWS.d")
    assert merged.encode() == (theirs / "Misc" / "NEWS").read_bytes()

    run_blurb(theirs, "release", version)
    their_file = theirs / "Misc" / "NEWS.d" / f"{version}.rst"
    path = release_news(ours / "Misc" / "NEWS.d", version, date=release_date_of(their_file))
    assert path == ours / "Misc" / "NEWS.d" / f"{version}.rst"
    assert path.read_bytes() == their_file.read_bytes()
    (theirs / "Misc" / "NEWS").unlink()
    assert files_under(ours / "Misc") == files_under(theirs / "Misc")

    # And the merged file after the release (the new version file is read back by both).
    run_blurb(theirs, "merge", "-f")
    assert merge_news(ours / "Misc" / "NEWS.d").encode() == (theirs / "Misc" / "NEWS").read_bytes()


SHAPES = [
    # (released versions, entries per version, next fragments, no-changes versions, legacy folders)
    pytest.param(dict(released=0, per_version=0, next_count=60), id="only-next"),
    pytest.param(dict(released=3, per_version=40, next_count=0), id="no-fragments:no-changes-release"),
    pytest.param(dict(released=4, per_version=25, next_count=40, no_changes=2), id="no-changes-versions"),
    pytest.param(dict(released=16, per_version=4, next_count=10), id="many-versions-a-b-rc-final"),
    pytest.param(dict(released=2, per_version=30, next_count=50, legacy_folders=True), id="legacy-folders"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_shapes_match_blurb(shape, seed, tmp_path):
    tree = tmp_path / "tree"
    make_tree(tree, seed=seed, edge_cases=True, **shape)
    assert_same_as_blurb(tree, tmp_path, "3.15.0b1")


@pytest.mark.parametrize("seed", range(10, 16))
def test_seeded_random_trees_match_blurb(seed, tmp_path):
    tree = tmp_path / "tree"
    make_tree(tree, released=seed % 4, per_version=25, next_count=35, seed=seed, edge_cases=True,
              no_changes=seed % 2, legacy_folders=seed % 3 == 0)
    assert_same_as_blurb(tree, tmp_path, f"3.15.0a{seed - 7}")


def test_hand_written_edge_cases_match_blurb(tmp_path):
    tree = make_edge_tree(tmp_path / "tree")
    assert_same_as_blurb(tree, tmp_path, "3.15.0rc1")


def test_final_release_heading_matches_blurb(tmp_path):
    tree = tmp_path / "tree"
    make_tree(tree, released=2, per_version=5, next_count=5, seed=7)
    assert_same_as_blurb(tree, tmp_path, "3.15.0")


def test_merge_with_a_forked_worker_matches_blurb(tmp_path, monkeypatch):
    """The two-process merge (normally only for thousands of entries), forced on a small tree."""
    from relman.news import merge as fast

    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)
    forks = []
    real_fork = fast.os.fork
    monkeypatch.setattr(fast.os, "fork", lambda: forks.append(1) or real_fork())
    tree = tmp_path / "tree"
    make_tree(tree, released=5, per_version=30, next_count=60, seed=21, edge_cases=True, no_changes=1)
    theirs, ours = twin(tree, tmp_path)
    run_blurb(theirs, "merge", "-f")
    assert merge_news(ours / "Misc" / "NEWS.d", jobs=2).encode() == (theirs / "Misc" / "NEWS").read_bytes()
    assert forks == [1]


def test_next_shared_between_processes_matches_blurb(tmp_path, monkeypatch):
    """Released versions cached, so only next/ is left: its fragments are rendered in runs by
    both processes (forced on a small awkward tree) and must still give blurb's bytes."""
    from relman.news import merge as fast
    from relman.news.cache import VersionCache
    from relman.news.render import join_blocks

    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)
    shared = []
    real_split = fast._split
    monkeypatch.setattr(fast, "_split", lambda *args: shared.append(real_split(*args)) or shared[-1])
    tree = tmp_path / "tree"
    make_tree(tree, released=3, per_version=20, next_count=80, seed=22, edge_cases=True, legacy_folders=True)
    theirs, ours = twin(tree, tmp_path)
    run_blurb(theirs, "merge", "-f")
    cache = VersionCache(tmp_path / "cache")
    for _ in ("cold", "warm"):
        blocks, problems = fast.merge_blocks(ours / "Misc" / "NEWS.d", jobs=2, cache=cache)
        assert problems == []
        assert join_blocks(blocks).encode() == (theirs / "Misc" / "NEWS").read_bytes()
    assert cache.hits == 3
    mine, worker = shared[-1]  # the warm merge: runs of next/ fragments on both sides
    assert mine and worker
