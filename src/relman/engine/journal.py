"""The SQLite journal: runs, steps, attempts, approvals, and the hash-chained event log they derive from.

One file in WAL mode. Every state change is one transaction, so a process killed at any
moment leaves a consistent journal that the next run resumes from.

The event log is the source of truth. Each event's hash covers the previous event's hash,
and every write to the other tables (a run's status and parameters, a step's status,
fingerprint and outputs, an attempt, an approval) is carried in full by the event that
records it. The tables are a projection of the chain: `verify` replays the chain and checks
that every row equals what the chain says, that no row exists the chain does not know, and
that the chain ends at the head stored with the run (so deleting the last events is caught).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

SCHEMA_VERSION = 2

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
    finished_at REAL,
    chain_head TEXT NOT NULL,
    chain_length INTEGER NOT NULL DEFAULT 0
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
    forced INTEGER NOT NULL DEFAULT 0,
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
# Run statuses beyond the step ones: a run nobody will resume.
ABANDONED = "abandoned"
GENESIS = "0" * 64

# The projected tables: their columns (in order, without run_id) and the column that keys a row.
COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("key", "workflow", "params", "status", "created_at", "updated_at", "finished_at"),
    "steps": ("step_id", "position", "description", "phase", "status", "fingerprint", "inputs", "outputs", "error",
              "started_at", "ended_at", "attempts", "forced"),
    "attempts": ("id", "step_id", "number", "started_at", "ended_at", "outcome", "error"),
    "approvals": ("gate", "step_id", "decision", "who", "how", "at", "note"),
}
ROW_KEY = {"steps": "step_id", "attempts": "id", "approvals": "gate"}
STATE_KEY = "_state"      # where an event carries the rows it wrote


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
    forced: bool = False

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


@dataclass(frozen=True)
class Problem:
    """One way the journal of a run disagrees with its own hash chain."""

    what: str                 # "link", "head", "row"
    detail: str
    event_id: int | None = None

    def __str__(self) -> str:
        return self.detail


def _event_hash(prev: str, run_id: int, ts: float, step_id: str | None, kind: str, data: str) -> str:
    payload = f"{prev}\n{run_id}\n{ts!r}\n{step_id or ''}\n{kind}\n{data}"
    return hashlib.sha256(payload.encode()).hexdigest()


class Journal:
    """All reads and writes of the state file. Use from one thread (the runner's)."""

    def __init__(self, path: Path, *, redact: Callable[[str], str] = lambda s: s):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._redact = redact
        self._pending: list[list[Any]] = []
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "runs" in tables or "meta" in tables:
                found = None
                if "meta" in tables:
                    row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                    found = row[0] if row else None
                if found != str(SCHEMA_VERSION):
                    self.db.close()
                    raise UsageError(
                        f"the journal has schema version {found or 'unknown'}; this relman reads version "
                        f"{SCHEMA_VERSION}", where=str(self.path),
                        hint="use the relman that wrote it to finish or abort its runs, or point --state at "
                             "another folder (the file is left as it is)")
            else:
                self.db.executescript(SCHEMA)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as error:
            raise UsageError(f"the state file is not a relman journal ({error})", where=str(self.path),
                             hint="point --state at another folder, or move the file away") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        self._pending = []
        try:
            yield
            if self._pending:
                raise RuntimeError("a journal write was not recorded by an event")
        except BaseException:
            self._pending = []
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _json(self, value: Any) -> str | None:
        if value is None:
            return None
        return self._redact(json.dumps(value, sort_keys=True, default=str))

    # ---- the projection: every row written is carried by the next event ----------------
    def _row(self, table: str, run_id: int, key: Any) -> dict[str, Any] | None:
        cols = COLUMNS[table]
        if table == "runs":
            row = self.db.execute(f"SELECT {', '.join(cols)} FROM runs WHERE id=?", (run_id,)).fetchone()
        else:
            row = self.db.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE run_id=? AND {ROW_KEY[table]}=?",
                                  (run_id, key)).fetchone()
        return dict(zip(cols, row)) if row else None

    def _put(self, table: str, run_id: int, row: dict[str, Any]) -> None:
        """Write the full row and queue it for the event that records this change."""
        cols = COLUMNS[table]
        row = {c: self._redact(v) if isinstance(v, str) else v for c, v in row.items()}   # no secret in any row
        values = [row.get(c) for c in cols]
        if table == "runs":
            sets = ", ".join(f"{c}=?" for c in cols)
            self.db.execute(f"UPDATE runs SET {sets} WHERE id=?", (*values, run_id))
            key: Any = run_id
        else:
            placeholders = ", ".join("?" for _ in cols)
            self.db.execute(f"INSERT OR REPLACE INTO {table} (run_id, {', '.join(cols)}) VALUES (?, {placeholders})",
                            (run_id, *values))
            key = row[ROW_KEY[table]]
        self._pending.append([table, key, {c: row.get(c) for c in cols}])

    def _update(self, table: str, run_id: int, key: Any, **changes: Any) -> dict[str, Any]:
        row = self._row(table, run_id, key)
        if row is None:
            raise UsageError(f"no {table} row {key!r} in run {run_id}", where=str(self.path))
        row.update(changes)
        self._put(table, run_id, row)
        return row

    # ---- runs ----------------------------------------------------------------------------
    def create_run(self, key: str, workflow: str, params: Mapping[str, Any],
                   steps: Iterable[tuple[str, str, str]]) -> int:
        now = time.time()
        with self.transaction():
            text = self._json(dict(params))
            cur = self.db.execute(
                "INSERT INTO runs (key, workflow, params, status, created_at, updated_at, chain_head, chain_length)"
                " VALUES (?,?,?,?,?,?,?,0)", (key, workflow, text, PENDING, now, now, GENESIS))
            run_id = int(cur.lastrowid or 0)
            self._pending.append(["runs", run_id, self._row("runs", run_id, run_id)])
            self._insert_steps(run_id, steps, start=0)
            self._event(run_id, None, "run-created", {"key": key, "workflow": workflow})
        return run_id

    def _insert_steps(self, run_id: int, steps: Iterable[tuple[str, str, str]], start: int) -> None:
        known = {sid for (sid,) in self.db.execute("SELECT step_id FROM steps WHERE run_id=?", (run_id,))}
        position = start
        for sid, desc, phase in steps:
            if sid in known:
                continue
            self._put("steps", run_id, {"step_id": sid, "position": position, "description": desc, "phase": phase,
                                        "status": PENDING, "attempts": 0, "forced": 0})
            known.add(sid)
            position += 1

    def add_steps(self, run_id: int, steps: Iterable[tuple[str, str, str]]) -> None:
        """On resume with a newer workflow: add the steps the journal does not know yet."""
        (count,) = self.db.execute("SELECT COUNT(*) FROM steps WHERE run_id=?", (run_id,)).fetchone()
        with self.transaction():
            self._insert_steps(run_id, steps, start=count)
            if self._pending:
                self._event(run_id, None, "steps-added", {"steps": [p[1] for p in self._pending]})

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

    def set_run_status(self, run_id: int, status: str, *, finished: bool = False,
                       data: Mapping[str, Any] | None = None) -> None:
        now = time.time()
        with self.transaction():
            self._update("runs", run_id, run_id, status=status, updated_at=now, finished_at=now if finished else None)
            self._event(run_id, None, "run-" + status, dict(data or {}))

    def update_params(self, run_id: int, params: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        with self.transaction():
            self._update("runs", run_id, run_id, params=self._json(dict(params)), updated_at=time.time())
            self._event(run_id, None, "inputs-changed", dict(changes))

    # ---- steps ---------------------------------------------------------------------------
    def steps(self, run_id: int) -> dict[str, StepRow]:
        rows = self.db.execute(
            "SELECT step_id, position, description, phase, status, fingerprint, inputs, outputs, error,"
            " started_at, ended_at, attempts, forced FROM steps WHERE run_id=? ORDER BY position",
            (run_id,)).fetchall()
        return {r[0]: StepRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None,
                              json.loads(r[7]) if r[7] else None, r[8], r[9], r[10], r[11], bool(r[12]))
                for r in rows}

    def mark_skipped(self, run_id: int, step_ids: Iterable[str]) -> None:
        ids = list(step_ids)
        if not ids:
            return
        now = time.time()
        with self.transaction():
            for sid in ids:
                self._update("steps", run_id, sid, status=SKIPPED, started_at=now, ended_at=now)
                self._event(run_id, sid, "step-skipped", {"reason": "condition does not apply"})

    def start_attempt(self, run_id: int, step_id: str, fingerprint: str, inputs: Mapping[str, Any]) -> int:
        now = time.time()
        with self.transaction():
            step = self._row("steps", run_id, step_id)
            if step is None:
                raise UsageError(f"no step {step_id!r} in run {run_id}", where=str(self.path))
            number = step["attempts"] + 1
            self._update("steps", run_id, step_id, status=RUNNING, fingerprint=fingerprint,
                         inputs=self._json(dict(inputs)), error=None, attempts=number, forced=0,
                         started_at=step["started_at"] if step["started_at"] is not None else now)
            cur = self.db.execute("INSERT INTO attempts (run_id, step_id, number, started_at, outcome)"
                                  " VALUES (?,?,?,?,?)", (run_id, step_id, number, now, RUNNING))
            self._pending.append(["attempts", cur.lastrowid, self._row("attempts", run_id, cur.lastrowid)])
            self._event(run_id, step_id, "attempt-started", {"attempt": number, "fingerprint": fingerprint})
        return number

    def end_attempt(self, run_id: int, step_id: str, outcome: str, *, error: str | None = None,
                    step_status: str | None = None, outputs: Mapping[str, Any] | None = None,
                    detail: Mapping[str, Any] | None = None) -> None:
        """Close the open attempt; `step_status` (done/failed/paused/pending) updates the step."""
        now = time.time()
        error = self._redact(error) if error else None
        with self.transaction():
            last = self.db.execute("SELECT MAX(id) FROM attempts WHERE run_id=? AND step_id=?",
                                   (run_id, step_id)).fetchone()[0]
            if last is not None:
                self._update("attempts", run_id, last, ended_at=now, outcome=outcome, error=error)
            if step_status is not None:
                changes: dict[str, Any] = {"status": step_status, "error": error,
                                           "ended_at": now if step_status in (DONE, FAILED) else None}
                if outputs is not None:
                    changes["outputs"] = self._json(dict(outputs))
                self._update("steps", run_id, step_id, **changes)
            data = {"outcome": outcome, **(detail or {})}
            if error:
                data["error"] = error
            self._event(run_id, step_id, "attempt-" + outcome, data)

    def set_step_status(self, run_id: int, step_id: str, status: str, *, error: str | None = None,
                        event: str | None = None, data: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self._update("steps", run_id, step_id, status=status, error=self._redact(error) if error else None)
            self._event(run_id, step_id, event or "step-" + status, dict(data or {}))

    def reset_steps(self, run_id: int, step_ids: Iterable[str], *, forced: Iterable[str] = (), kind: str,
                    data: Mapping[str, Any] | None = None) -> None:
        """Make finished steps pending again (a redo, or a drifted step chosen to re-run), in one event.
        `forced` steps run their action without being probed first."""
        ids, force = list(step_ids), set(forced)
        with self.transaction():
            for sid in ids:
                self._update("steps", run_id, sid, status=PENDING, outputs=None, error=None, started_at=None,
                             ended_at=None, forced=int(sid in force))
            self._event(run_id, None, kind, {**(data or {}), "steps": ids, "forced": sorted(force)})

    def restamp(self, run_id: int, stamps: Mapping[str, tuple[str, Mapping[str, Any]]], *, kind: str,
                data: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None) -> None:
        """Record new input fingerprints for finished steps (accepted drift, or a change relman made itself)."""
        with self.transaction():
            if params is not None:
                self._update("runs", run_id, run_id, params=self._json(dict(params)), updated_at=time.time())
            for sid, (fp, inputs) in stamps.items():
                self._update("steps", run_id, sid, fingerprint=fp, inputs=self._json(dict(inputs)))
            self._event(run_id, None, kind, {**(data or {}), "steps": sorted(stamps)})

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
            self._put("approvals", run_id, {"gate": gate, "step_id": step_id, "decision": decision, "who": who,
                                            "how": how, "at": now, "note": note})
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
        head = self.db.execute("SELECT chain_head, chain_length FROM runs WHERE id=?", (run_id,)).fetchone()
        if head is None:
            raise UsageError(f"no run {run_id} in {self.path}", hint="`relman runs` lists the runs")
        prev, length = head
        payload = dict(data)
        if self._pending:
            payload[STATE_KEY] = self._pending
            self._pending = []
        ts = time.time()
        text = self._json(payload) or "{}"
        digest = _event_hash(prev, run_id, ts, step_id, kind, text)
        self.db.execute("INSERT INTO events (run_id, ts, step_id, kind, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
                        (run_id, ts, step_id, kind, text, prev, digest))
        self.db.execute("UPDATE runs SET chain_head=?, chain_length=? WHERE id=?", (digest, length + 1, run_id))

    def events(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT id, ts, step_id, kind, data FROM events WHERE run_id=? ORDER BY id",
                               (run_id,)).fetchall()
        result = []
        for r in rows:
            data = json.loads(r[4])
            data.pop(STATE_KEY, None)
            result.append({"id": r[0], "ts": r[1], "step_id": r[2], "kind": r[3], "data": data})
        return result

    # ---- verification --------------------------------------------------------------------
    def verify_chain(self, run_id: int) -> list[int]:
        """Ids of event rows whose hash does not match their content or their predecessor."""
        return sorted({p.event_id for p in self.verify(run_id) if p.what == "link" and p.event_id is not None})

    def verify(self, run_id: int) -> list[Problem]:
        """Everything in the journal of `run_id` that its hash chain does not prove: broken links,
        a chain cut short (the stored head), and table rows that differ from the chain's."""
        problems: list[Problem] = []
        head = self.db.execute("SELECT chain_head, chain_length FROM runs WHERE id=?", (run_id,)).fetchone()
        if head is None:
            return [Problem("row", f"run {run_id} has no row in the runs table")]
        expected: dict[str, dict[Any, dict[str, Any] | None]] = {t: {} for t in COLUMNS}
        prev, count = GENESIS, 0
        for row in self.db.execute("SELECT id, ts, step_id, kind, data, prev_hash, hash FROM events"
                                   " WHERE run_id=? ORDER BY id", (run_id,)):
            event_id, ts, step_id, kind, data, prev_hash, digest = row
            count += 1
            if prev_hash != prev:
                problems.append(Problem("link", f"event {event_id} ({kind}) does not follow the event before it "
                                        "(an event was deleted or inserted)", event_id))
            elif _event_hash(prev_hash, run_id, ts, step_id, kind, data) != digest:
                problems.append(Problem("link", f"event {event_id} ({kind}) was edited: its hash does not match "
                                        "its content", event_id))
            prev = digest
            try:
                carried = json.loads(data).get(STATE_KEY) or []
            except (ValueError, AttributeError):
                carried = []
            for table, key, values in carried:
                if table in expected:
                    expected[table][key] = values
        if (prev, count) != (head[0], head[1]):
            problems.append(Problem("head", f"the chain ends after {count} event(s) at {prev[:12]}, but the run "
                                    f"recorded {head[1]} ending at {str(head[0])[:12]} (the last events were "
                                    "deleted, or the head was edited)"))
        for table, cols in COLUMNS.items():
            if table == "runs":
                actual: dict[Any, dict[str, Any]] = {run_id: self._row("runs", run_id, run_id) or {}}
            else:
                actual = {r[0]: dict(zip(cols, r[1:])) for r in self.db.execute(
                    f"SELECT {ROW_KEY[table]}, {', '.join(cols)} FROM {table} WHERE run_id=?", (run_id,))}
            chain_rows = expected[table]
            for key in sorted(set(actual) | set(chain_rows), key=str):
                have, want = actual.get(key), chain_rows.get(key)
                name = f"{table} row {key}" if table != "runs" else f"run {run_id}"
                if want is None:
                    problems.append(Problem("row", f"{name} is not in the chain (inserted outside relman)"))
                elif have is None:
                    problems.append(Problem("row", f"{name} is in the chain but missing from the table (deleted)"))
                else:
                    differ = [c for c in cols if have.get(c) != want.get(c)]
                    if differ:
                        problems.append(Problem("row", f"{name}: {', '.join(differ)} differ(s) from the chain "
                                                "(edited outside relman)"))
        return problems
