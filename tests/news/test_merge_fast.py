"""The fast merge (relman.news.merge) against the reference merge, serial and with a forked worker.

The reference is `render_news(load_tree(...))`: every file parsed into entries by the careful
parser, then rendered. The fast path must give the same text and the same problems on every
tree, and the forked worker must never change either.
"""

from __future__ import annotations

import os
import threading
from unittest import mock
from pathlib import Path

import pytest

from relman.news import NewsError, merge_news
from relman.news import merge as fast
from relman.news.cache import VersionCache
from relman.news.render import join_blocks, load_tree, render_news
from relman.news.synthetic import make_tree

from .edge_tree import make_edge_tree
from .peer import merge_cases


def reference(news: Path, hint: str | None = None) -> str:
    versions, problems = load_tree(news, lazy=False)
    assert problems == []
    return render_news(versions, next_label=hint)


def merged(news: Path, jobs: int, hint: str | None = None) -> tuple[str, list]:
    # No cache: these tests are about rendering (serial and forked), not about remembering it.
    blocks, problems = fast.merge_blocks(news, next_label=hint, jobs=jobs, cache=None)
    return join_blocks(blocks), problems


@pytest.fixture()
def always_parallel(monkeypatch):
    """Fork for any tree, and count the forks (so a test knows the worker really ran)."""
    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)
    forks = []
    real_fork = os.fork

    def counting_fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    return forks


TREES = [
    pytest.param(dict(released=3, per_version=30, next_count=40, seed=1), id="plain"),
    pytest.param(dict(released=4, per_version=25, next_count=40, seed=2, edge_cases=True, no_changes=1),
                 id="edge-no-changes"),
    pytest.param(dict(released=2, per_version=20, next_count=60, seed=3, edge_cases=True,
                      legacy_folders=True), id="edge-legacy-folders"),
    pytest.param(dict(released=5, per_version=10, next_count=0, seed=4, edge_cases=True), id="no-next"),
    pytest.param(dict(released=0, per_version=0, next_count=50, seed=5, edge_cases=True), id="only-next"),
]


@pytest.mark.parametrize("shape", TREES)
def test_fast_merge_equals_reference_serial_and_parallel(shape, tmp_path, always_parallel):
    news = make_tree(tmp_path / "tree", git=False, **shape)
    expected = reference(news)
    serial, problems = merged(news, jobs=1)
    assert problems == []
    assert serial == expected
    assert always_parallel == []  # jobs=1 never forks
    parallel, problems = merged(news, jobs=2)
    assert problems == []
    assert parallel == expected
    # Whole versions and runs of next/ fragments are shared out: every shape has two shares or more.
    assert always_parallel == [1]
    hinted = reference(news, "3.15.0b1")
    assert merged(news, jobs=1, hint="3.15.0b1")[0] == hinted
    assert merged(news, jobs=2, hint="3.15.0b1")[0] == hinted


def test_tidy_files_never_need_the_reference_path(tmp_path, monkeypatch):
    """What blurb and relman write is handled by the fast path alone (or it would not be fast)."""
    news = make_tree(tmp_path / "tree", released=3, per_version=40, next_count=60, seed=12, git=False)
    expected = reference(news)

    def unexpected(*args, **kwargs):
        raise AssertionError("the reference path was needed")

    monkeypatch.setattr(fast, "load_version", unexpected)
    monkeypatch.setattr(fast, "load_fragment", unexpected)
    assert merged(news, jobs=1) == (expected, [])


def test_hand_written_edge_cases_equal_reference(tmp_path, always_parallel):
    news = make_edge_tree(tmp_path / "tree") / "Misc" / "NEWS.d"
    expected = reference(news)
    assert merged(news, jobs=1) == (expected, [])
    assert merged(news, jobs=2) == (expected, [])


def put(news: Path, relative: str, content: str | bytes) -> None:
    path = news / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


UNUSUAL_FRAGMENTS = {
    # metadata block in a fragment (cve), comments, CRLF, a huge fragment, odd spaces, a list first
    "next/Security/2025-02-01-00-00-01.gh-issue-140001.cveAbc.rst":
        ".. cve: 2025-4321\n\nA security fix described at some length so that it wraps over the margin "
        "of seventy-six columns.\n",
    "next/Library/2025-02-01-00-00-02.gh-issue-140002.cmtAbc.rst": "# a comment\n\nText after a comment.\n",
    "next/Library/2025-02-01-00-00-03.gh-issue-140003.crlfAb.rst":
        b"Windows line endings\r\nin a fragment.\r\n\r\nTwo paragraphs.\r\n",
    "next/Library/2025-02-01-00-00-04.gh-issue-140004.bigAbc.rst":
        ("word " * 20000).strip() + ".\n",  # more than one 64 KiB read
    "next/Library/2025-02-01-00-00-05.gh-issue-140005.tabAbc.rst": "Tabs\there and\u00a0NBSP there.\n",
    "next/Library/2025-02-01-00-00-06.gh-issue-140006.lstAbc.rst": "* a list first\n* second item\n",
    "next/Library/2025-02-01-00-00-07.gh-issue-140007.dblAbc.rst": "Two  spaces.  Here " + "x " * 50 + "\n",
    "next/Library/2025-02-01-00-00-08.bpo-40001.bpoAbc.rst": "An old bpo entry.\n",
    "next/Library/2025-02-01-00-00-09.gh-issue-140009.dirAbc.rst": "Text with\n.. note:: a directive\n",
    "next/C API/2025-02-01-00-00-10.gh-issue-140010.legAbc.rst": "A legacy folder name.\n",
    "next/C_API/2025-02-01-00-00-10.gh-issue-140010.legAbc.rst": "The same name, modern folder.\n",
    "next/Library/2025-02-01-00-00-11.gh-issue-140011.trlAbc.rst": "Trailing spaces   \nhere.   \n",
    "next/Library/2025-02-01-00-00-12.gh-issue-140012.ldgAbc.rst": "\n\n   Leading blank lines and spaces.\n",
    "next/Library/2025-02-01-00-00-13.gh-issue-140013.lngAbc.rst":
        "A " + "very-long-word-" * 8 + " then more words to fill the line and then some more words.\n",
}

UNUSUAL_VERSIONS = {
    # bpo and cve entries, an extra key, unsorted keys, and text that is not single-spaced
    "3.13.0a1.rst":
        ".. bpo: 40000\n.. date: 2024-01-01\n.. nonce: aaaaaa\n.. release date: 2024-01-02\n"
        ".. section: Library\n\nAn entry with a bpo number and text long enough to be wrapped at the margin "
        "by both merges.\n\n..\n\n.. cve: CVE-2024-1111\n.. date: 2024-01-01\n.. gh-issue: 100000\n"
        ".. nonce: bbbbbb\n.. section: Security\n\nA CVE entry.\n\n..\n\n.. section: Library\n"
        ".. gh-issue: 100001\n.. date: 2024-01-01\n.. nonce: cccccc\n.. extra key: kept\n\n"
        "Keys out of order.  Two spaces.\n\n..\n\n.. bpo: 0\n.. date: 2024-01-01\n.. nonce: dddddd\n"
        ".. section: Library\n\nIssue zero: no prefix at all.\n",
    "3.13.0a2.rst":
        ".. date: 2024-02-01\n.. gh-issue: 0\n.. no changes: True\n.. nonce: eeeeee\n"
        ".. release date: 2024-02-02\n.. section: Library\n\nThere were no new changes in version 3.13.0a2.\n",
    "3.13.0a3.rst":  # CRLF and a tab
        ".. date: 2024-03-01\r\n.. gh-issue: 100002\r\n.. nonce: ffffff\r\n.. release date: 2024-03-02\r\n"
        ".. section: Build\r\n\r\nA\ttab.\r\n",
}


def test_unusual_files_take_the_reference_path(tmp_path, always_parallel):
    news = make_tree(tmp_path / "tree", released=2, per_version=10, next_count=10, seed=6, git=False)
    for relative, content in {**UNUSUAL_FRAGMENTS, **UNUSUAL_VERSIONS}.items():
        put(news, relative, content)
    expected = reference(news)
    assert "CVE-2024-1111" in expected and "bpo-40001: An old bpo entry." in expected
    assert "\n- Issue zero: no prefix at all." in expected
    assert merged(news, jobs=1) == (expected, [])
    assert merged(news, jobs=2) == (expected, [])


def test_no_changes_fragment_first_in_next(tmp_path):
    news = make_tree(tmp_path / "tree", released=1, per_version=5, next_count=5, seed=7, git=False)
    put(news, "next/Security/2099-01-01-00-00-00.gh-issue-0.zzzzzz.rst",
        ".. no changes: True\n\nNothing new.\n")
    expected = reference(news)
    assert "Nothing new." in expected
    assert merged(news, jobs=1) == (expected, [])


def test_no_changes_fragment_first_in_next_parallel(tmp_path, always_parallel):
    news = make_tree(tmp_path / "tree", released=0, per_version=0, next_count=40, seed=7, git=False)
    put(news, "next/Security/2099-01-01-00-00-00.gh-issue-0.zzzzzz.rst",
        ".. no changes: True\n\nNothing new.\n")
    expected = reference(news)
    assert merged(news, jobs=2) == (expected, [])
    assert always_parallel == [1]


def worker_first(monkeypatch):
    """Give the worker the other half, first run of next/ included (the parent's usual share)."""
    real_split = fast._split
    monkeypatch.setattr(fast, "_split", lambda *args: tuple(reversed(real_split(*args))))


@pytest.mark.parametrize("swap", [False, True], ids=["parent-first", "worker-first"])
@pytest.mark.parametrize("no_changes_first", [False, True], ids=["entries", "no-changes-first"])
def test_next_is_shared_between_the_processes(tmp_path, monkeypatch, always_parallel, swap, no_changes_first):
    """With the released versions cached, only next/ is left to render: its runs of fragments
    go to both processes and are put back together in blurb's order, byte for byte."""
    news = make_tree(tmp_path / "tree", released=3, per_version=15, next_count=90, seed=16, edge_cases=True,
                     legacy_folders=True, git=False)
    if no_changes_first:
        put(news, "next/Security/2099-01-01-00-00-00.gh-issue-0.zzzzzz.rst",
            ".. no changes: True\n\nNothing new.\n")
    if swap:
        worker_first(monkeypatch)
    recorded: list[tuple[list, list, list]] = []
    real_split = fast._split

    def split(*args):
        mine, theirs = real_split(*args)
        recorded.append((mine, theirs))
        return mine, theirs

    monkeypatch.setattr(fast, "_split", split)
    expected = reference(news)
    assert merged(news, jobs=1) == (expected, [])
    cache = VersionCache(tmp_path / "cache")
    for _ in ("cold", "warm"):
        blocks, problems = fast.merge_blocks(news, jobs=2, cache=cache)
        assert (join_blocks(blocks), problems) == (expected, [])
    assert cache.hits == 3
    assert always_parallel == [1, 1]
    mine, theirs = recorded[-1]  # the warm merge: next/ alone, in runs, shared out
    assert mine and theirs


BROKEN = {
    "next/Library/2025-03-01-00-00-01.gh-issue-12.smallA.rst": "Issue number below GitHub's first.\n",
    "next/Library/2025-03-01-00-00-02.gh-issue-140100.badUtf.rst": b"caf\xe9\n",
    "next/Library/2025-03-01-00-00-03.gh-issue-140101.forbid.rst": "gh-140101: prefix written by hand.\n",
    "next/Library/not-a-fragment-name.rst": "Text.\n",
    "next/Library/2025-03-01-00-00-04.gh-issue-140102.twoEnt.rst": "One.\n..\nTwo.\n",
    "3.13.0b1.rst": ".. date: 2024-01-01\n.. gh-issue: 100003\n.. nonce: gggggg\n.. section: Library\n\n"
                    "A version file without a release date.\n",
    "3.13.0b2.rst": ".. date: 2024-01-01\n.. gh-issue: 100004\n.. nonce: hhhhhh\n.. release date: 2024-01-02\n"
                    ".. section: Nowhere\n\nAn unknown section.\n",
}


def test_problems_are_the_reference_ones_serial_and_parallel(tmp_path, always_parallel):
    news = make_tree(tmp_path / "tree", released=3, per_version=10, next_count=10, seed=8, git=False)
    for relative, content in BROKEN.items():
        put(news, relative, content)
    _, expected = load_tree(news, lazy=True)
    assert len(expected) >= len(BROKEN)
    for jobs in (1, 2):
        _, problems = merged(news, jobs=jobs)
        assert sorted(problems) == sorted(expected)
    assert always_parallel == [1]
    with pytest.raises(NewsError) as error:
        merge_news(news, jobs=2)
    assert error.value.problems == sorted(expected)


def test_a_failing_worker_is_replaced_by_the_parent(tmp_path, monkeypatch, always_parallel):
    news = make_tree(tmp_path / "tree", released=3, per_version=20, next_count=20, seed=9, git=False)
    expected = reference(news)

    def broken_send(fd, blocks):
        raise MemoryError("the worker dies")

    monkeypatch.setattr(fast, "_send", broken_send)
    assert merged(news, jobs=2) == (expected, [])
    assert always_parallel == [1]


def test_no_fork_while_other_threads_run(tmp_path, monkeypatch):
    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)

    def no_fork():
        raise AssertionError("forked with a second thread running")

    monkeypatch.setattr(os, "fork", no_fork)
    news = make_tree(tmp_path / "tree", released=2, per_version=10, next_count=10, seed=10, git=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert merged(news, jobs=2) == (reference(news), [])
    finally:
        stop.set()
        thread.join()


def test_small_trees_stay_in_one_process(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked for a small tree"))
    news = make_tree(tmp_path / "tree", released=2, per_version=10, next_count=10, seed=11, git=False)
    assert merged(news, jobs=2) == (reference(news), [])


def test_split_shares_the_work_and_keeps_every_version():
    costs = [5000, 300, 300, 300, 300, 4000, 10, 0]
    mine, theirs = fast._split(costs)
    assert sorted(mine + theirs) == list(range(len(costs)))
    assert mine == sorted(mine) and theirs == sorted(theirs)
    assert abs(sum(costs[i] for i in mine) - sum(costs[i] for i in theirs)) <= max(costs)


def test_receive_checks_what_the_worker_sent():
    read_end, write_end = os.pipe()
    blocks = ["first\nblock", "", "naïve → 日本語"]
    fast._send(write_end, blocks)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    assert fast._receive(payload, 3) == blocks
    assert fast._receive(payload, 2) is None  # not the number of versions asked for
    assert fast._receive(payload[:-3], 3) is None  # cut short
    assert fast._receive(b"", 1) is None


def test_default_jobs_reads_the_environment(monkeypatch):
    monkeypatch.setenv("RELMAN_NEWS_JOBS", "1")
    assert fast.default_jobs() == 1
    monkeypatch.setenv("RELMAN_NEWS_JOBS", "3")
    assert fast.default_jobs() == 3
    monkeypatch.setenv("RELMAN_NEWS_JOBS", "lots")
    assert 1 <= fast.default_jobs() <= 2


def test_cli_merge_jobs_option(tmp_path):
    from click.testing import CliRunner

    from relman.cli.main import cli

    news = make_tree(tmp_path / "tree", released=2, per_version=10, next_count=10, seed=13, git=False)
    expected = merge_news(news, jobs=1)
    for jobs in ("1", "2"):
        out = tmp_path / f"NEWS-{jobs}"
        result = CliRunner().invoke(cli, ["news", "merge", str(out), "--jobs", jobs, "--news-dir", str(news)])
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8") == expected
    result = CliRunner().invoke(cli, ["news", "merge", "--jobs", "0", "--news-dir", str(news)])
    assert result.exit_code == 2
    assert "--jobs" in result.output


HEAVY = ("rich", "httpx", "pydantic", "jinja2", "packaging", "tempfile", "subprocess", "relman.engine",
         "relman.release", "relman.vcs", "relman.version")


def test_news_merge_imports_nothing_heavy(tmp_path):
    """`relman news merge` adds the news code to what `relman` loads anyway, not the rest of
    relman or big dependencies (what relman.cli.main itself imports is the CLI's business)."""
    import subprocess
    import sys

    news = make_tree(tmp_path / "tree", released=1, per_version=5, next_count=5, seed=14, git=False)
    script = ("import sys\nfrom relman.cli.main import cli\nbefore = set(sys.modules)\n"
              "try:\n    cli(['news', 'merge', sys.argv[1], '--news-dir', sys.argv[2]])\n"
              "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
              "print(' '.join(sorted(set(sys.modules) - before)))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "NEWS"), str(news)],
                          capture_output=True, text=True, check=True)
    added = set(proc.stdout.split())
    assert "relman.news.merge" in added and "relman.cli.news_cmd" in added
    assert sorted(name for name in added if name in HEAVY or name.split(".")[0] in HEAVY
                  or name.rpartition(".")[0] in HEAVY) == []


# ---- the one-step rendering of ordinary text, against blurb's two reflows ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from relman.news.fragments import _FORBIDDEN_START  # noqa: E402
from relman.news.render import prefixed_entry_text  # noqa: E402
from relman.news.wrap import is_plain, wrap_body  # noqa: E402

# Plain text only (what the fast path sees): words of every length around the margin, single
# and double spaces, line breaks, blank lines, list markers and `::`.
WORDS = st.sampled_from(["a", "bb", "word", "gh-", "x" * 30, "y" * 72, "z" * 73, "w" * 74, "v" * 75, "u" * 80,
                         " ", " ", " ", "  ", "\n", "\n", "\n\n", "\n\n\n", "* ", "- ", "1. ", "#. ", "::",
                         ".", "é", "日本"])
BODIES = st.lists(WORDS, min_size=1, max_size=80).map(
    lambda parts: "\n".join(line.rstrip() for line in "".join(parts).split("\n")).strip("\n").rstrip())
PREFIXES = st.sampled_from(["gh-135000: ", "bpo-1234: ", "CVE-2025-1234, gh-135000: "])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(BODIES, PREFIXES)
def test_simple_entry_equals_the_two_reflows(body, prefix):
    if not body or not is_plain(body):
        return
    got = fast._simple_entry(prefix, body)
    lazy = wrap_body(body, plain=True, lazy=True)
    if got is None:
        return
    assert not _FORBIDDEN_START.match(lazy)  # the general path would not reject it either
    assert got == prefixed_entry_text(prefix, lazy, True)
    assert got == prefixed_entry_text(prefix, wrap_body(body), True)  # the exact (not lazy) reading too


# One case the fast path surely takes, in every batch below (so each batch shows it ran).
USUAL = ("One paragraph\nover two lines.\n\nAnd a second one.", "gh-135000: ")


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.lists(st.tuples(BODIES, PREFIXES), min_size=30, max_size=40))
def test_simple_entries_merge_like_blurb(tmp_path_factory, cases):
    """The same bodies through `blurb merge`, one run per batch: in canonical version-file entries
    and gh-issue fragments (the one-step path) and with the other prefixes; relman merges serially
    here, so the one-step renderings can be counted."""
    taken = []
    one_step = fast._simple_entry

    def counted(prefix, body):
        piece = one_step(prefix, body)
        taken.append(piece is not None)
        return piece

    def serial(news):
        text, problems = merged(news, jobs=1)
        assert problems == []
        return text

    with mock.patch.object(fast, "_simple_entry", counted):
        written = merge_cases(tmp_path_factory.mktemp("simple") / "cpython", [*cases, USUAL], merge=serial)
    assert USUAL in written
    assert any(taken)


def test_simple_entry_takes_the_usual_shapes():
    assert fast._simple_entry("gh-1: ", "One paragraph\nover two lines.") == "- gh-1: One paragraph over two lines.\n"
    assert fast._simple_entry("gh-1: ", "First.\n\nSecond\nparagraph.") == "- gh-1: First.\n\n  Second paragraph.\n"
    assert fast._simple_entry("gh-1: ", "Ends with::\n\n  code") is None  # a literal block follows
    assert fast._simple_entry("gh-1: ", "Intro.\n\n* item") is None
    assert fast._simple_entry("gh-1: ", "Two  spaces.") is None
    assert fast._simple_entry("gh-1: ", "gh-1: prefix by hand.") is None


def test_a_failed_fork_merges_in_one_process(tmp_path, monkeypatch):
    monkeypatch.setattr(fast, "PARALLEL_MIN_ENTRIES", 0)

    def no_more_processes():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    news = make_tree(tmp_path / "tree", released=2, per_version=10, next_count=10, seed=15, git=False)
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    assert merged(news, jobs=2) == (reference(news), [])
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before  # the pipe was closed
