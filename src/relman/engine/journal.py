"""The SQLite journal: runs, steps, attempts, outputs, approvals, and a hash-chained event log.

One file in WAL mode. Every state change is one transaction, so a process killed at any
moment leaves a consistent journal that the next run resumes from. The event log is
append-only; each row's hash covers the previous row's hash, so an edited or deleted row is
detected by `verify_chain`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    workflow TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS runs_key ON runs(key);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    description TEXT NOT NULL,
    phase TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT,
    inputs TEXT,
    outputs TEXT,
    error TEXT,
    started_at REAL,
    ended_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_step ON attempts(run_id, step_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    step_id TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, id);
CREATE TABLE IF NOT EXISTS approvals (
    run_id INTEGER NOT NULL,
    gate TEXT NOT NULL,
    step_id TEXT,
    decision TEXT NOT NULL,
    who TEXT NOT NULL,
    how TEXT NOT NULL,
    at REAL NOT NULL,
    note TEXT,
    PRIMARY KEY (run_id, gate)
);
"""

# Step statuses.
PENDING, RUNNING, DONE, FAILED, SKIPPED, PAUSED = "pending", "running", "done", "failed", "skipped", "paused"
FINISHED_STATES = (DONE, SKIPPED)
GENESIS = "0" * 64


@dataclass
class RunRow:
    id: int
    key: str
    workflow: str
    params: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    finished_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "workflow": self.workflow, "params": self.params,
                "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at,
                "finished_at": self.finished_at}


@dataclass
class StepRow:
    step_id: str
    position: int
    description: str
    phase: str
    status: str
    fingerprint: str | None
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    error: str | None
    started_at: float | None
    ended_at: float | None
    attempts: int

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.step_id, "description": self.description, "phase": self.phase,
                "status": self.status, "started_at": self.started_at, "ended_at": self.ended_at,
                "duration_s": self.duration_s, "attempts": self.attempts, "error": self.error,
                "outputs": self.outputs, "fingerprint": self.fingerprint}


def _event_hash(prev: str, run_id: int, ts: float, step_id: str | None, kind: str, data: str) -> str:
    payload = f"{prev}\n{run_id}\n{ts!r}\n{step_id or ''}\n{kind}\n{data}"
    return hashlib.sha256(payload.encode()).hexdigest()


class Journal:
    """All reads and writes of the state file. Use from one thread (the runner's)."""

    def __init__(self, path: Path, *, redact: Callable[[str], str] = lambda s: s):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._redact = redact
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as error:
            raise UsageError(f"the state file is not a relman journal ({error})", where=str(self.path),
                             hint="point --state at another folder, or move the file away") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _json(self, value: Any) -> str | None:
        if value is None:
            return None
        return self._redact(json.dumps(value, sort_keys=True, default=str))

    # ---- runs ----------------------------------------------------------------------------
    def create_run(self, key: str, workflow: str, params: Mapping[str, Any],
                   steps: Iterable[tuple[str, str, str]]) -> int:
        now = time.time()
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (key, workflow, params, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (key, workflow, self._json(dict(params)), PENDING, now, now))
            run_id = cur.lastrowid
            self._insert_steps(run_id, steps, start=0)
            self._event(run_id, None, "run-created", {"key": key, "workflow": workflow})
        return run_id

    def _insert_steps(self, run_id: int, steps: Iterable[tuple[str, str, str]], start: int) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO steps (run_id, step_id, position, description, phase, status) VALUES (?,?,?,?,?,?)",
            [(run_id, sid, start + i, desc, phase, PENDING) for i, (sid, desc, phase) in enumerate(steps)])

    def add_steps(self, run_id: int, steps: Iterable[tuple[str, str, str]]) -> None:
        """On resume with a newer workflow: add the steps the journal does not know yet."""
        (count,) = self.db.execute("SELECT COUNT(*) FROM steps WHERE run_id=?", (run_id,)).fetchone()
        with self.transaction():
            self._insert_steps(run_id, steps, start=count)

    def get_run(self, run_id: int) -> RunRow:
        row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise UsageError(f"no run {run_id} in {self.path}", hint="`relman runs` lists the runs")
        return self._run_row(row)

    def runs(self, key: str | None = None) -> list[RunRow]:
        if key is None:
            rows = self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM runs WHERE key=? ORDER BY id", (key,)).fetchall()
        return [self._run_row(r) for r in rows]

    def latest_run(self, key: str) -> RunRow | None:
        row = self.db.execute("SELECT * FROM runs WHERE key=? ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        return self._run_row(row) if row else None

    @staticmethod
    def _run_row(row: tuple) -> RunRow:
        return RunRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7])

    def set_run_status(self, run_id: int, status: str, *, finished: bool = False) -> None:
        now = time.time()
        with self.transaction():
            self.db.execute("UPDATE runs SET status=?, updated_at=?, finished_at=? WHERE id=?",
                            (status, now, now if finished else None, run_id))
            self._event(run_id, None, "run-" + status, {})

    def update_params(self, run_id: int, params: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        with self.transaction():
            self.db.execute("UPDATE runs SET params=?, updated_at=? WHERE id=?",
                            (self._json(dict(params)), time.time(), run_id))
            self._event(run_id, None, "inputs-changed", dict(changes))

    # ---- steps ---------------------------------------------------------------------------
    def steps(self, run_id: int) -> dict[str, StepRow]:
        rows = self.db.execute(
            "SELECT step_id, position, description, phase, status, fingerprint, inputs, outputs, error,"
            " started_at, ended_at, attempts FROM steps WHERE run_id=? ORDER BY position", (run_id,)).fetchall()
        return {r[0]: StepRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None,
                              json.loads(r[7]) if r[7] else None, r[8], r[9], r[10], r[11]) for r in rows}

    def mark_skipped(self, run_id: int, step_ids: Iterable[str]) -> None:
        ids = list(step_ids)
        if not ids:
            return
        now = time.time()
        with self.transaction():
            for sid in ids:
                self.db.execute("UPDATE steps SET status=?, started_at=?, ended_at=? WHERE run_id=? AND step_id=?",
                                (SKIPPED, now, now, run_id, sid))
                self._event(run_id, sid, "step-skipped", {"reason": "condition does not apply"})

    def start_attempt(self, run_id: int, step_id: str, fingerprint: str, inputs: Mapping[str, Any]) -> int:
        now = time.time()
        with self.transaction():
            (number,) = self.db.execute("SELECT attempts + 1 FROM steps WHERE run_id=? AND step_id=?",
                                        (run_id, step_id)).fetchone()
            self.db.execute(
                "UPDATE steps SET status=?, fingerprint=?, inputs=?, error=NULL, attempts=?,"
                " started_at=COALESCE(started_at, ?) WHERE run_id=? AND step_id=?",
                (RUNNING, fingerprint, self._json(dict(inputs)), number, now, run_id, step_id))
            self.db.execute("INSERT INTO attempts (run_id, step_id, number, started_at, outcome) VALUES (?,?,?,?,?)",
                            (run_id, step_id, number, now, RUNNING))
            self._event(run_id, step_id, "attempt-started", {"attempt": number, "fingerprint": fingerprint})
        return number

    def end_attempt(self, run_id: int, step_id: str, outcome: str, *, error: str | None = None,
                    step_status: str | None = None, outputs: Mapping[str, Any] | None = None,
                    detail: Mapping[str, Any] | None = None) -> None:
        """Close the open attempt; `step_status` (done/failed/paused/pending) updates the step."""
        now = time.time()
        error = self._redact(error) if error else None
        with self.transaction():
            self.db.execute("UPDATE attempts SET ended_at=?, outcome=?, error=? WHERE id = (SELECT MAX(id)"
                            " FROM attempts WHERE run_id=? AND step_id=?)", (now, outcome, error, run_id, step_id))
            if step_status is not None:
                self.db.execute(
                    "UPDATE steps SET status=?, error=?, outputs=COALESCE(?, outputs), ended_at=? WHERE run_id=? AND step_id=?",
                    (step_status, error, self._json(dict(outputs)) if outputs is not None else None,
                     now if step_status in (DONE, FAILED) else None, run_id, step_id))
            data = {"outcome": outcome, **(detail or {})}
            if error:
                data["error"] = error
            self._event(run_id, step_id, "attempt-" + outcome, data)

    def set_step_status(self, run_id: int, step_id: str, status: str, *, error: str | None = None,
                        event: str | None = None, data: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self.db.execute("UPDATE steps SET status=?, error=? WHERE run_id=? AND step_id=?",
                            (status, self._redact(error) if error else None, run_id, step_id))
            if event:
                self._event(run_id, step_id, event, dict(data or {}))

    def attempts(self, run_id: int, step_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT step_id, number, started_at, ended_at, outcome, error FROM attempts WHERE run_id=?"
        args: tuple = (run_id,)
        if step_id:
            sql += " AND step_id=?"
            args += (step_id,)
        return [dict(zip(("step_id", "number", "started_at", "ended_at", "outcome", "error"), r))
                for r in self.db.execute(sql + " ORDER BY id", args)]

    # ---- approvals -----------------------------------------------------------------------
    def record_approval(self, run_id: int, gate: str, step_id: str | None, decision: str, who: str,
                        how: str, note: str | None = None) -> None:
        now = time.time()
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO approvals VALUES (?,?,?,?,?,?,?,?)",
                            (run_id, gate, step_id, decision, who, how, now, note))
            self._event(run_id, step_id, "gate-" + decision, {"gate": gate, "who": who, "how": how, "note": note})

    def approvals(self, run_id: int) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT gate, step_id, decision, who, how, at, note FROM approvals WHERE run_id=?",
                               (run_id,)).fetchall()
        keys = ("gate", "step_id", "decision", "who", "how", "at", "note")
        return {r[0]: dict(zip(keys, r)) for r in rows}

    # ---- events --------------------------------------------------------------------------
    def event(self, run_id: int, step_id: str | None, kind: str, data: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self._event(run_id, step_id, kind, dict(data or {}))

    def _event(self, run_id: int, step_id: str | None, kind: str, data: Mapping[str, Any]) -> None:
        # Read inside the write transaction, never from a cache: another process (the web app
        # answering a gate) may have appended to this run's chain since our last event.
        row = self.db.execute("SELECT hash FROM events WHERE run_id=? ORDER BY id DESC LIMIT 1",
                              (run_id,)).fetchone()
        prev = row[0] if row else GENESIS
        ts = time.time()
        text = self._json(data) or "{}"
        digest = _event_hash(prev, run_id, ts, step_id, kind, text)
        self.db.execute("INSERT INTO events (run_id, ts, step_id, kind, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
                        (run_id, ts, step_id, kind, text, prev, digest))

    def events(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT id, ts, step_id, kind, data FROM events WHERE run_id=? ORDER BY id",
                               (run_id,)).fetchall()
        return [{"id": r[0], "ts": r[1], "step_id": r[2], "kind": r[3], "data": json.loads(r[4])} for r in rows]

    def verify_chain(self, run_id: int) -> list[int]:
        """Ids of event rows whose hash does not match their content or their predecessor."""
        broken = []
        prev = GENESIS
        for row in self.db.execute("SELECT id, ts, step_id, kind, data, prev_hash, hash FROM events"
                                   " WHERE run_id=? ORDER BY id", (run_id,)):
            event_id, ts, step_id, kind, data, prev_hash, digest = row
            if prev_hash != prev or _event_hash(prev_hash, run_id, ts, step_id, kind, data) != digest:
                broken.append(event_id)
            prev = digest
        return broken
