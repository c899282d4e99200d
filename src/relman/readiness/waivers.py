"""Waivers: a person accepts a known problem, says why, and until when.

A waiver names a target — `builder:<builder name>` or `issue:<number>` — optionally limited
to one branch, with who, why, when it was recorded and when it expires. A problem whose
target has a waiver in force stays visible in the verdict (with the waiver) but counts as
TRIVIAL. An expired waiver stops counting on its own; it stays in the file as history.

Stored in `<state dir>/waivers.json` (a small JSON document, written atomically under a
file lock), so several terminals and the release runner see the same waivers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..errors import UsageError

FILE_NAME = "waivers.json"
_DURATION = re.compile(r"^(\d+)\s*([hdw])$")


def default_state_dir() -> Path:
    """$RELMAN_STATE_DIR, else $XDG_STATE_HOME/relman, else ~/.local/state/relman."""
    if os.environ.get("RELMAN_STATE_DIR"):
        return Path(os.environ["RELMAN_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "relman"


def normalise_target(target: str) -> str:
    kind, sep, name = target.partition(":")
    if not sep or kind not in ("builder", "issue") or not name.strip():
        raise UsageError(f"not a waiver target: {target!r}", hint="use builder:<name> or issue:<number>")
    name = name.strip()
    if kind == "issue":
        name = name.lstrip("#")
        if not name.isdigit():
            raise UsageError(f"not an issue number: {name!r}", hint="for example issue:12345")
    return f"{kind}:{name}"


def parse_until(text: str, *, now: datetime | None = None) -> datetime:
    """`2026-12-01` (end of that day, UTC), an ISO timestamp, or a duration `12h`, `3d`, `2w`."""
    now = now or datetime.now(tz=timezone.utc)
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        amount, unit = int(match[1]), match[2]
        return now + {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"not a date, time or duration: {text!r}",
                         hint="for example 2026-12-01, 2026-12-01T18:00+00:00, 36h, 3d or 2w") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Waiver:
    id: str
    target: str                  # builder:<name> | issue:<number>
    who: str
    why: str
    until: str                   # ISO 8601, UTC
    created_at: str
    branch: str | None = None    # "3.14", "main"; None = every branch

    @property
    def until_dt(self) -> datetime:
        return datetime.fromisoformat(self.until)

    def in_force(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(tz=timezone.utc)) < self.until_dt

    def covers(self, target: str | None, branch: str | None) -> bool:
        return target == self.target and (self.branch is None or branch is None or self.branch == branch)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Waiver:
        fields = ("id", "target", "who", "why", "until", "created_at", "branch")
        return cls(**{k: data.get(k) for k in fields})  # type: ignore[arg-type]


class WaiverStore:
    """The waivers file. Reads are plain; writes hold a lock and replace the file atomically."""

    def __init__(self, state_dir: Path | str | None = None):
        self.dir = Path(state_dir) if state_dir else default_state_dir()
        self.path = self.dir / FILE_NAME

    def load(self) -> list[Waiver]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Waiver.from_dict(item) for item in data["waivers"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise UsageError(f"the waivers file is corrupt: {error}", where=str(self.path),
                             hint="fix or move it away; it is plain JSON") from None

    def active(self, now: datetime | None = None) -> list[Waiver]:
        return [w for w in self.load() if w.in_force(now)]

    def add(self, target: str, *, who: str, why: str, until: datetime, branch: str | None = None,
            now: datetime | None = None) -> Waiver:
        now = now or datetime.now(tz=timezone.utc)
        if not why.strip():
            raise UsageError("a waiver needs a reason", hint='--why "flaky since the runner upgrade, gh-12345"')
        if not who.strip():
            raise UsageError("a waiver needs a name", hint='--who "Your Name"')
        if until <= now:
            raise UsageError(f"the waiver would expire in the past ({until.isoformat(timespec='seconds')})",
                             hint="give a later --until")
        waiver = Waiver(id=secrets.token_hex(3), target=normalise_target(target), who=who.strip(), why=why.strip(),
                        until=until.astimezone(timezone.utc).isoformat(timespec="seconds"),
                        created_at=now.astimezone(timezone.utc).isoformat(timespec="seconds"), branch=branch)
        with self._locked():
            waivers = self.load()
            waivers.append(waiver)
            self._write(waivers)
        return waiver

    def revoke(self, waiver_id: str) -> Waiver:
        with self._locked():
            waivers = self.load()
            for waiver in waivers:
                if waiver.id == waiver_id:
                    self._write([w for w in waivers if w.id != waiver_id])
                    return waiver
        raise UsageError(f"no waiver with id {waiver_id!r}", where=str(self.path), hint="relman waive --list --all")

    def _locked(self) -> FileLock:
        self.dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path) + ".lock", timeout=10)

    def _write(self, waivers: Iterable[Waiver]) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"waivers": [w.as_dict() for w in waivers]}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def apply_waivers(problems: Iterable[Any], waivers: Iterable[Waiver], *, branch: str | None,
                  now: datetime | None = None) -> tuple[list[Any], list[Waiver]]:
    """Attach the waivers in force to the problems they cover; return (problems, waivers used)."""
    in_force = [w for w in waivers if w.in_force(now)]
    used: dict[str, Waiver] = {}
    out = []
    for problem in problems:
        waiver = next((w for w in in_force if w.covers(problem.target, branch)), None)
        if waiver is not None and problem.kind != "no_problem":
            problem = problem.with_waiver(waiver)
            used[waiver.id] = waiver
        out.append(problem)
    return out, list(used.values())
