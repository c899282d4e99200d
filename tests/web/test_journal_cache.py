"""The run pages' cache: a commit to the journal shows on the very next request; a journal file
replaced under the site (a fresh demo in the same folder) shows within IDENTITY_CHECK_S."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from relman.engine.journal import Journal
from relman.site.cache import IDENTITY_CHECK_S, JOURNAL_NAME, JournalCache


def versions_seen(cache: JournalCache) -> str:
    body, _, _ = cache.page("runs", lambda j: (",".join(r.key for r in j.runs()).encode() if j else b"", {}))
    return body.decode()


def test_a_commit_shows_at_once_and_a_replaced_journal_soon(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal = Journal(state / JOURNAL_NAME)
    journal.create_run("first", "release", {"version": "3.14.0"}, [])
    cache = JournalCache(state)
    assert versions_seen(cache) == "first"
    assert versions_seen(cache) == "first"            # cached: nothing changed

    journal.create_run("second", "release", {"version": "3.14.1"}, [])
    assert versions_seen(cache) == "first,second"     # the next request, no waiting
    journal.close()

    # a fresh journal in its place (what a new demo in the same folder does: a new state folder)
    shutil.rmtree(state)
    state.mkdir()
    fresh = Journal(state / JOURNAL_NAME)
    fresh.create_run("replacement", "release", {"version": "3.15.0a1"}, [])
    fresh.close()
    deadline = time.monotonic() + IDENTITY_CHECK_S + 5
    while versions_seen(cache) != "replacement":
        assert time.monotonic() < deadline, "the replaced journal was never noticed"
        time.sleep(0.05)
    cache.close()


def test_a_journal_that_goes_away_is_not_shown(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal = Journal(state / JOURNAL_NAME)
    journal.create_run("first", "release", {"version": "3.14.0"}, [])
    journal.close()
    cache = JournalCache(state)
    assert cache.version() is not None
    (state / JOURNAL_NAME).unlink()
    deadline = time.monotonic() + IDENTITY_CHECK_S + 5
    while cache.version() is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert cache.journal() is None
