"""The cache of rendered released versions: same bytes as without it, keyed by content,
and never a reason for wrong output or a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relman.news import merge_news
from relman.news.cache import VersionCache
from relman.news.merge import merge_blocks
from relman.news.synthetic import make_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "cpython", released=4, per_version=40, next_count=30, seed=7,
                     edge_cases=True, git=False)


def _uncached(news: Path) -> str:
    blocks, problems = merge_blocks(news, cache=None, jobs=1)
    assert not problems
    return "".join(blocks)


def test_cached_merge_gives_the_same_bytes(tree: Path, tmp_path: Path) -> None:
    cache = VersionCache(tmp_path / "cache")
    cold, _ = merge_blocks(tree, cache=cache, jobs=1)
    assert cache.hits == 0 and cache.misses == 4
    warm, _ = merge_blocks(tree, cache=cache, jobs=1)
    assert cache.hits == 4
    assert "".join(cold) == "".join(warm) == _uncached(tree)


def test_a_changed_version_file_is_rendered_again(tree: Path, tmp_path: Path) -> None:
    cache = VersionCache(tmp_path / "cache")
    merge_blocks(tree, cache=cache, jobs=1)
    version = sorted(tree.glob("*.rst"))[0]
    version.write_text(version.read_text() + "\n..\n\n.. date: 2024-05-09\n.. gh-issue: 140000\n"
                       ".. nonce: AbCdEf\n.. section: Library\n\nAn entry added after the cache was filled.\n")
    blocks, problems = merge_blocks(tree, cache=cache, jobs=1)
    assert not problems
    assert "An entry added after the cache was filled." in "".join(blocks)
    assert "".join(blocks) == _uncached(tree)


def test_a_corrupted_cache_entry_is_a_miss_not_wrong_output(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    merge_blocks(tree, cache=VersionCache(root), jobs=1)
    entries = [p for p in root.rglob("*") if p.is_file()]
    assert len(entries) == 4
    for entry in entries:  # tamper: same checksum line, different text
        data = entry.read_bytes()
        entry.write_bytes(data.replace(b"gh-", b"GH-", 1))
    cache = VersionCache(root)
    blocks, _ = merge_blocks(tree, cache=cache, jobs=1)
    assert cache.hits == 0
    assert "".join(blocks) == _uncached(tree)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_corrupted_entry_is_rendered_again_and_stored_again(tree: Path, tmp_path: Path, jobs: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether an entry is stored is asked before the worker starts, its text read after: a
    damaged one is then rendered by the parent (with or without a worker) and replaced."""
    from relman.news import merge as fast

    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)
    root = tmp_path / "cache"
    merge_blocks(tree, cache=VersionCache(root), jobs=1)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    damaged = sorted(p for p in root.rglob("*") if p.is_file())[0]
    damaged.write_bytes(damaged.read_bytes().replace(b"gh-", b"GH-", 1))
    cache = VersionCache(root)
    blocks, problems = merge_blocks(tree, cache=cache, jobs=jobs)
    assert (cache.hits, cache.misses) == (3, 1)
    assert not problems and "".join(blocks) == _uncached(tree)
    again = VersionCache(root)
    assert "".join(merge_blocks(tree, cache=again, jobs=jobs)[0]) == _uncached(tree)
    assert (again.hits, again.misses) == (4, 0)
    assert len(forks) == (2 if jobs == 2 else 0)


def test_an_unwritable_cache_costs_speed_only(tree: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    blocks, problems = merge_blocks(tree, cache=VersionCache(blocked / "news"), jobs=1)
    assert not problems and "".join(blocks) == _uncached(tree)


def test_a_rule_change_invalidates_every_entry(tree: Path, tmp_path: Path) -> None:
    """The key covers the renderer's source and the rendering settings."""
    one, other = VersionCache(tmp_path / "c", variant="blurb-2.3.0"), VersionCache(tmp_path / "c", variant="blurb-1.1")
    data = sorted(tree.glob("*.rst"))[0].read_bytes()
    assert one.key("3.14.0a1", data) != other.key("3.14.0a1", data)
    assert one.key("3.14.0a1", data) != one.key("3.14.0a1", data + b" ")


def test_merge_news_uses_the_configured_cache_and_can_turn_it_off(tree: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELMAN_CACHE_DIR", str(tmp_path / "user-cache"))
    first = merge_news(tree)
    assert len([p for p in (tmp_path / "user-cache" / "news").rglob("*") if p.is_file()]) == 4
    assert merge_news(tree) == first
    monkeypatch.setenv("RELMAN_NEWS_CACHE", "0")
    monkeypatch.setenv("RELMAN_CACHE_DIR", str(tmp_path / "other-cache"))
    assert merge_news(tree) == first
    assert not (tmp_path / "other-cache").exists()
    assert os.environ["RELMAN_NEWS_CACHE"] == "0"
