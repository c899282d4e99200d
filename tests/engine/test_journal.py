"""The journal proves itself: every table row is carried by the hash chain, the chain head is
stored with the run, and every kind of tampering is found (and a resume refuses it)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from relman.engine import ApprovalPolicy, Gate, Journal, Step
from relman.engine.journal import SCHEMA_VERSION
from relman.errors import JournalBroken, UsageError
from relman.release.session import require_intact

from .helpers import make_runner, noop


def finished_run(tmp_path):
    steps = [Step("a", "first", lambda ctx: {"commit": "c0ffee"}),
             Step("b", "gated", noop, deps=("a",), gate=Gate("push", "Push?")),
             Step("c", "last", noop, deps=("b",))]
    runner = make_runner(tmp_path, steps, approvals=ApprovalPolicy(approve=frozenset({"push"})))
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "done"
    runner.journal.close()
    return tmp_path / "state.db", run_id


def tamper(path, *statements):
    db = sqlite3.connect(path)
    for sql, args in statements:
        db.execute(sql, args)
    db.commit()
    db.close()


def problems(path, run_id):
    journal = Journal(path)
    try:
        return [str(p) for p in journal.verify(run_id)]
    finally:
        journal.close()


def test_an_untouched_journal_verifies(tmp_path):
    path, run_id = finished_run(tmp_path)
    assert problems(path, run_id) == []


def test_edited_step_outputs_are_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("UPDATE steps SET outputs=? WHERE step_id='a'", (json.dumps({"commit": "badbad"}),)))
    found = problems(path, run_id)
    assert any("steps row a" in p and "outputs" in p for p in found), found


def test_inserted_approval_is_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("INSERT INTO approvals VALUES (?,?,?,?,?,?,?,?)",
                  (run_id, "push-upstream", "c", "approved", "mallory", "interactive", 1.0, None)))
    found = problems(path, run_id)
    assert any("approvals row push-upstream" in p and "not in the chain" in p for p in found), found


def test_edited_approval_is_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("UPDATE approvals SET who='mallory' WHERE gate='push'", ()))
    assert any("approvals row push" in p and "who" in p for p in problems(path, run_id))


def test_edited_event_is_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("UPDATE events SET data='{\"outcome\": \"forged\"}' WHERE id=3", ()))
    found = problems(path, run_id)
    assert any("event 3" in p and "edited" in p for p in found), found


def test_truncated_chain_is_detected(tmp_path):
    """Deleting the last events leaves a chain whose links are all fine: the stored head catches it."""
    path, run_id = finished_run(tmp_path)
    tamper(path, ("DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id DESC LIMIT 2)", ()))
    found = problems(path, run_id)
    assert any("the last events were deleted" in p for p in found), found
    journal = Journal(path)
    assert journal.verify_chain(run_id) == [], "no link is broken: only the head shows the truncation"


def test_edited_run_status_is_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("UPDATE runs SET status='failed' WHERE id=?", (run_id,)))
    found = problems(path, run_id)
    assert any(f"run {run_id}: status" in p for p in found), found


def test_deleted_step_row_and_attempt_edit_are_detected(tmp_path):
    path, run_id = finished_run(tmp_path)
    tamper(path, ("DELETE FROM steps WHERE step_id='c'", ()),
           ("UPDATE attempts SET outcome='done' WHERE step_id='a'", ()),
           ("UPDATE attempts SET error='x' WHERE step_id='b'", ()))
    found = problems(path, run_id)
    assert any("steps row c" in p and "missing" in p for p in found), found
    assert any(p.startswith("attempts row") and "error" in p for p in found), found


@pytest.mark.parametrize("sql", [
    "UPDATE steps SET outputs='{}' WHERE step_id='a'",
    "DELETE FROM events WHERE id=(SELECT MAX(id) FROM events)",
    "UPDATE runs SET status='paused'",
])
def test_resume_refuses_a_broken_journal(tmp_path, sql):
    path, run_id = finished_run(tmp_path)
    tamper(path, (sql, ()))
    journal = Journal(path)
    with pytest.raises(JournalBroken) as info:
        require_intact(journal, run_id)
    assert info.value.exit_code == 2
    assert f"relman show --run {run_id}" in str(info.value)


def test_unknown_schema_version_is_refused(tmp_path):
    path, _ = finished_run(tmp_path)
    tamper(path, ("UPDATE meta SET value='99' WHERE key='schema_version'", ()))
    with pytest.raises(UsageError) as info:
        Journal(path)
    assert "schema version 99" in str(info.value) and f"reads version {SCHEMA_VERSION}" in str(info.value)


def test_a_journal_from_before_versioning_is_refused(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, key TEXT)")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="schema version unknown"):
        Journal(path)


def test_redacted_rows_still_verify(tmp_path, monkeypatch):
    """Secrets are masked in the rows and in the events alike, so masking is never mistaken for tampering."""
    from relman.engine import Plan, Redactor, Runner

    monkeypatch.setenv("UPLOAD_TOKEN", "tok-123456789")
    redact = Redactor([])
    journal = Journal(tmp_path / "state.db", redact=redact)
    steps = [Step("leaky", "leaky", lambda ctx: {"auth": "Bearer tok-123456789", "say": 'quote " tok-123456789'})]
    runner = Runner(journal, Plan.build("t", steps, {"note": "tok-123456789"}), key="k", redact=redact)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "done"
    assert journal.steps(run_id)["leaky"].outputs == {"auth": "Bearer ***", "say": 'quote " ***'}
    assert journal.verify(run_id) == []
