"""After a release: record it in the schedule data (`python-releases.toml`), keeping the file's layout.

`mark_released(path, version, when)` sets the release's entry to `state = "actual"` with its
real date (adding the entry when the release was not scheduled, e.g. a hotfix), and moves the
series along: at beta 1 the branch gets its own name and the status "prerelease"; at X.Y.0
final the status becomes "bugfix" and `first-release` the real date. Running it again changes
nothing. The file is checked before and after, and replaced atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit

from ..errors import UsageError
from ..version import Version
from .cycle import parse_cycle, parse_stage

_WORDS = {"a": "alpha", "b": "beta", "rc": "candidate"}


def stage_label(version: Version) -> str:
    """CPython's label for a release: "3.14.0 beta 2", "3.14.0 final", "3.14.1"."""
    if version.is_final:
        return f"{version.normalized} final" if version.micro == 0 else version.normalized
    return f"{version.normalized} {_WORDS[version.level]} {version.serial}"


@dataclass
class ScheduleUpdate:
    path: str
    version: str
    date: str
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "version": self.version, "date": self.date, "changes": self.changes}


def released_in(path: Path, version: Version) -> date | None:
    """The recorded date of a release already marked actual, else None (the step's probe)."""
    cycle = parse_cycle(Path(path).read_bytes(), str(path))
    entry = cycle.release(version)
    return entry.date if entry is not None and entry.state == "actual" else None


def mark_released(path: str | Path, version: Version | str, when: date) -> ScheduleUpdate:
    path = Path(path)
    v = Version.parse(str(version))
    if not path.is_file():
        raise UsageError(f"no such schedule file: {path}", hint="set [readiness] cycle to a python-releases.toml")
    text = path.read_text(encoding="utf-8")
    parse_cycle(text, str(path))                        # refuse to edit a file that is already invalid
    doc = tomlkit.parse(text)
    update = ScheduleUpdate(str(path), v.text, when.isoformat())
    xy = v.basic_version
    meta = doc.get("metadata", {}).get(xy)
    if meta is None:
        raise UsageError(f"no [metadata.\"{xy}\"] table for {v.text}", where=str(path),
                         hint=f"add the {xy} series to the schedule first")
    releases = doc.setdefault("release", tomlkit.table(is_super_table=True))
    entries = releases.get(xy)
    if entries is None:
        entries = tomlkit.aot()
        releases[xy] = entries
    entry = next((e for e in entries if parse_stage(str(e.get("stage", ""))) == v), None)
    if entry is None:
        entry = tomlkit.table()
        entry["stage"] = stage_label(v)
        entry["state"] = "actual"
        entry["date"] = when
        entries.append(entry)
        update.changes.append(f"added {stage_label(v)} (not in the schedule) as released on {when}")
    else:
        if entry.get("state") != "actual":
            entry["state"] = "actual"
            update.changes.append(f"{entry['stage']}: expected → actual")
        if entry.get("date") != when:
            update.changes.append(f"{entry['stage']}: date {entry.get('date')} → {when}")
            entry["date"] = when
    if v.is_beta and v.serial == 1 and v.micro == 0:
        if meta.get("status") == "feature":
            meta["status"] = "prerelease"
            update.changes.append(f"{xy}: status feature → prerelease")
        if meta.get("branch") == "main":
            meta["branch"] = xy
            update.changes.append(f"{xy}: branch main → {xy}")
    if v.is_final and v.micro == 0:
        if meta.get("status") in ("feature", "prerelease"):
            update.changes.append(f"{xy}: status {meta.get('status')} → bugfix")
            meta["status"] = "bugfix"
        if meta.get("first-release") != when:
            update.changes.append(f"{xy}: first-release {meta.get('first-release')} → {when}")
            meta["first-release"] = when
    if not update.changed:
        return update
    new_text = tomlkit.dumps(doc)
    parse_cycle(new_text, str(path))                    # the result must still be valid data
    tmp = path.with_name(path.name + ".relman-tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)
    return update
