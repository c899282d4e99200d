"""The release-cycle data: which branches exist, their status, and their releases.

Two sources, both CPython's own formats (python/peps `release_management/`):

- a `python-releases.toml`-shaped file: `[metadata."X.Y"]` (pep, status, branch,
  release-manager, start-of-development, feature-freeze, first-release, end-of-bugfix,
  end-of-life) and `[[release."X.Y"]]` (stage "3.14.0 beta 2", state actual|expected, date,
  note). This one knows every release, so it can say which release comes next;
- a `release-cycle.json` file or URL (the public API at peps.python.org/api/release-cycle.json:
  branch, pep, status, first_release, end_of_life, release_manager per "X.Y").

URLs are fetched with a timeout and cached in a cache directory; when the network fails (or
`offline=True`) the cached copy is used, however old, and `ReleaseCycle.stale` says so.

Statuses: feature (main), prerelease, bugfix, security, end-of-life. A branch is active
unless it is end-of-life. Builders tag the main branch "3.x" and the others "X.Y".
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ExternalServiceError, UsageError
from ..version import Version

STATUSES = ("feature", "prerelease", "bugfix", "security", "end-of-life")
DEFAULT_CYCLE_URL = "https://peps.python.org/api/release-cycle.json"
_STAGE = re.compile(r"^(\d+\.\d+\.\d+)(?:\s+(alpha|beta|candidate|release candidate|final)\s*(\d+)?)?$")
_LEVEL = {"alpha": "a", "beta": "b", "candidate": "rc", "release candidate": "rc"}
STAGE_WORDS = ("alpha", "beta", "candidate", "release candidate", "final")
STATES = ("actual", "expected")


def stage_problem(stage: str) -> str | None:
    """Why a stage label is not one CPython's schedule uses (None when it is fine)."""
    text = stage.strip()
    if _STAGE.match(text):
        return None
    base, _, rest = text.partition(" ")
    if not re.fullmatch(r"\d+\.\d+\.\d+", base):
        return f"version {base!r} does not parse (expected X.Y.Z, e.g. \"3.14.1\" or \"3.14.0 beta 2\")"
    word = re.sub(r"\s*\d+$", "", rest.strip())
    if word not in STAGE_WORDS:
        return f"unknown stage {word!r} (one of: {', '.join(STAGE_WORDS)})"
    return f"malformed stage {stage!r} (expected e.g. \"3.14.0 beta 2\")"


def parse_stage(stage: str) -> Version | None:
    """'3.14.0 beta 2' → 3.14.0b2, '3.14.0 final' and '3.14.1' → finals; None if unrecognised."""
    match = _STAGE.match(stage.strip())
    if not match:
        return None
    base, word, serial = match.groups()
    if word in (None, "final"):
        return Version.parse(base)
    return Version.parse(f"{base}{_LEVEL[word]}{serial or 1}")


@dataclass(frozen=True)
class ScheduledRelease:
    stage: str
    state: str                 # actual | expected
    date: date
    note: str = ""

    @property
    def version(self) -> Version | None:
        return parse_stage(self.stage)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "version": self.version.text if self.version else None, "state": self.state,
                "date": self.date.isoformat(), "note": self.note}


@dataclass(frozen=True)
class BranchInfo:
    version: str               # "3.14"
    branch: str                # "3.14", or "main" for the version in development
    status: str
    pep: int | None = None
    release_manager: str | None = None
    first_release: str | None = None
    end_of_life: str | None = None
    feature_freeze: str | None = None
    end_of_bugfix: str | None = None
    start_of_development: str | None = None
    releases: tuple[ScheduledRelease, ...] = ()

    @property
    def tag(self) -> str:
        """The builder tag of this branch on CPython's Buildbot."""
        return "3.x" if self.branch == "main" else self.version

    @property
    def active(self) -> bool:
        return self.status != "end-of-life"

    def next_release(self, today: date | None = None) -> ScheduledRelease | None:
        """The first expected release on or after today (or the first expected one)."""
        today = today or date.today()
        pending = [r for r in self.releases if r.state == "expected"]
        upcoming = [r for r in pending if r.date >= today]
        chosen = sorted(upcoming or pending, key=lambda r: r.date)
        return chosen[0] if chosen else None

    def countdown(self, today: date | None = None) -> str | None:
        """'3.14.8 in 5 days (2026-10-06)' — for the next expected release."""
        today = today or date.today()
        nxt = self.next_release(today)
        if nxt is None:
            return None
        days = (nxt.date - today).days
        name = nxt.version.long_name if nxt.version else nxt.stage
        if days < 0:
            when = f"overdue by {-days} day{'s' * (days != -1)}"
        elif days == 0:
            when = "today"
        elif days % 7 == 0 and days <= 28:
            weeks = days // 7
            when = f"in {'one week' if weeks == 1 else f'{weeks} weeks'}"
        else:
            when = f"in {days} day{'s' * (days != 1)}"
        return f"{name} {when} ({nxt.date.isoformat()})"

    def as_dict(self, today: date | None = None) -> dict[str, Any]:
        nxt = self.next_release(today)
        return {"version": self.version, "branch": self.branch, "tag": self.tag, "status": self.status,
                "pep": self.pep, "release_manager": self.release_manager, "first_release": self.first_release,
                "end_of_life": self.end_of_life,
                "next_release": nxt.as_dict() if nxt else None, "countdown": self.countdown(today)}


@dataclass
class ReleaseCycle:
    branches: dict[str, BranchInfo]          # "X.Y" → info, newest first
    source: str = ""
    stale: bool = False                      # served from an old cache because the source failed
    warnings: list[str] = field(default_factory=list)

    def active(self) -> list[BranchInfo]:
        return [b for b in self.branches.values() if b.active]

    def find(self, name: str) -> BranchInfo:
        """By version ("3.14"), branch name ("main") or builder tag ("3.x")."""
        key = name.strip()
        for info in self.branches.values():
            if key in (info.version, info.branch, info.tag):
                return info
        known = ", ".join(b.branch for b in self.active())
        raise UsageError(f"no branch {name!r} in the release-cycle data ({self.source})",
                         hint=f"active branches: {known}")

    def for_version(self, version: Version) -> BranchInfo | None:
        return self.branches.get(version.basic_version)

    def release_cycle_json(self) -> dict[str, Any]:
        """The public `release-cycle.json` document, in the exact shape CPython publishes.

        Keyed by "X.Y", newest first release first, versions from 2.6 on; `end_of_life` of a
        version still supported loses a trailing "-01" ("2030-10"), an end-of-life version keeps
        its full date — as CPython's generator does.
        """
        def order(b: BranchInfo) -> tuple:
            return (b.first_release or "", tuple(int(p) for p in b.version.split(".")))

        chosen = [b for b in self.branches.values() if tuple(int(p) for p in b.version.split(".")) >= (2, 6)]
        return {b.version: {"branch": b.branch, "pep": b.pep, "status": b.status, "first_release": b.first_release,
                            "end_of_life": _public_eol(b), "release_manager": b.release_manager}
                for b in sorted(chosen, key=order, reverse=True)}

    def release_cycle_text(self) -> str:
        """`release-cycle.json` as published: two-space indent, real UTF-8, a trailing newline."""
        return json.dumps(self.release_cycle_json(), indent=2, ensure_ascii=False) + "\n"

    def full_json(self) -> dict[str, Any]:
        """The `python-releases.json` shape: every metadata field and every release."""
        meta = {v: {"pep": b.pep, "status": b.status, "branch": b.branch, "release_manager": b.release_manager,
                    "start_of_development": b.start_of_development, "feature_freeze": b.feature_freeze,
                    "first_release": b.first_release, "end_of_bugfix": b.end_of_bugfix, "end_of_life": b.end_of_life}
                for v, b in self.branches.items()}
        releases = {v: [{"stage": r.stage, "state": r.state, "date": r.date.isoformat(), "note": r.note}
                        for r in b.releases] for v, b in self.branches.items()}
        return {"metadata": meta, "releases": releases}

    def upcoming(self, today: date | None = None, *, include_inactive: bool = False) -> list[tuple[BranchInfo, ScheduledRelease]]:
        """The next expected release of every branch, soonest first."""
        today = today or date.today()
        found = []
        for info in self.branches.values():
            if info.active or include_inactive:
                nxt = info.next_release(today)
                if nxt is not None:
                    found.append((info, nxt))
        return sorted(found, key=lambda pair: (pair[1].date, pair[0].version))

    def release(self, version: Version) -> ScheduledRelease | None:
        """The schedule entry of one release (by its parsed stage)."""
        info = self.for_version(version)
        return next((r for r in info.releases if r.version == version), None) if info else None

    def next_after(self, version: Version) -> ScheduledRelease | None:
        """The release scheduled after `version` in the same series (for "the next release is …")."""
        info = self.for_version(version)
        if info is None:
            return None
        later = [r for r in info.releases if r.version is not None and version < r.version]
        return min(later, key=lambda r: (r.date, _version_key(r))) if later else None


def _version_key(release: ScheduledRelease) -> tuple[int, ...]:
    parsed = release.version
    return parsed.sort_key if parsed is not None else (0,)


def _public_eol(b: BranchInfo) -> str | None:
    eol = b.end_of_life
    if eol and b.status != "end-of-life" and len(eol) == 10 and eol.endswith("-01"):
        return eol[:7]
    return eol


def countdown_phrase(release: ScheduledRelease, today: date) -> str:
    """"One week left until 3.14.0 final", "3 days until 3.14.1", "3.14.1 is due today"."""
    days = (release.date - today).days
    name = release.stage
    if days < 0:
        return f"{name} is {-days} day{'s' * (days != -1)} overdue (was due {release.date.isoformat()})"
    if days == 0:
        return f"{name} is due today"
    if days == 1:
        return f"One day left until {name}"
    if days % 7 == 0 and days <= 28:
        weeks = days // 7
        return f"{'One week' if weeks == 1 else f'{weeks} weeks'} left until {name}"
    return f"{days} days until {name}"


# ---- loading ------------------------------------------------------------------------------

def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _sorted(branches: Iterable[BranchInfo]) -> dict[str, BranchInfo]:
    def key(b: BranchInfo) -> tuple:
        major, minor = (int(p) for p in b.version.split(".")[:2])
        return (-major, -minor)
    return {b.version: b for b in sorted(branches, key=key)}


def _check_status(status: Any, where: str) -> str:
    if status not in STATUSES:
        raise UsageError(f"unknown branch status {status!r}", where=where, hint=f"one of: {', '.join(STATUSES)}")
    return status


def _line_of(text: str | None, needle: str) -> int | None:
    if not text:
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


_META_DATES = ("start-of-development", "feature-freeze", "first-release", "end-of-bugfix", "end-of-life")


def cycle_from_toml(data: Mapping[str, Any], source: str = "", text: str | None = None) -> ReleaseCycle:
    """Build the cycle from `python-releases.toml` data, checking every entry.

    All problems are reported at once, each naming the file, the table and entry (and the line
    when the text is at hand): unknown status, state or stage, a version that does not parse or
    belongs to another series, dates out of order (releases of a series, or the milestones).
    """
    metadata = data.get("metadata")
    if not isinstance(metadata, Mapping):
        raise UsageError("no [metadata.\"X.Y\"] tables: not a python-releases.toml file", where=source)
    releases = data.get("release") or {}
    problems: list[str] = []

    def problem(where: str, message: str, needle: str | None = None) -> None:
        line = _line_of(text, needle) if needle else None
        problems.append(f"{source}{f':{line}' if line else ''}: {where}: {message}")

    for version in releases:
        if version not in metadata:
            problem(f"[[release.\"{version}\"]]", f"no [metadata.\"{version}\"] table for these releases",
                    f'[[release."{version}"]]')
    branches = []
    for version, meta in metadata.items():
        where = f"[metadata.\"{version}\"]"
        if not re.fullmatch(r"\d+\.\d+", version) or not isinstance(meta, Mapping):
            problem(where, f"bad metadata key {version!r} (expected \"X.Y\")", f'[metadata."{version}"]')
            continue
        status = meta.get("status")
        if status not in STATUSES:
            problem(where, f"unknown branch status {status!r} (one of: {', '.join(STATUSES)})", f'[metadata."{version}"]')
        milestones: list[tuple[str, date]] = []
        for key in _META_DATES:
            if meta.get(key) in (None, ""):
                continue
            try:
                milestones.append((key, _date(meta[key])))
            except (ValueError, TypeError):
                problem(where, f"{key} = {meta[key]!r} is not a date (YYYY-MM-DD)", f'[metadata."{version}"]')
        for (k1, d1), (k2, d2) in pairwise(milestones):
            if d2 < d1:
                problem(where, f"dates out of order: {k2} {d2} is before {k1} {d1}", f'[metadata."{version}"]')
        entries = []
        items = releases.get(version) or ()
        for index, item in enumerate(items, 1):
            entry = f"[[release.\"{version}\"]] entry {index}"
            if not isinstance(item, Mapping) or "stage" not in item or "date" not in item:
                problem(entry, "every release needs a stage and a date", f'[[release."{version}"]]')
                continue
            stage = str(item["stage"])
            needle = f'"{stage}"'
            entry += f" (stage \"{stage}\")"
            why = stage_problem(stage)
            if why:
                problem(entry, why, needle)
                continue
            state = str(item.get("state", "expected"))
            if state not in STATES:
                problem(entry, f"unknown state {state!r} (one of: {', '.join(STATES)})", needle)
            try:
                when = _date(item["date"])
            except (ValueError, TypeError):
                problem(entry, f"date {item['date']!r} is not a date (YYYY-MM-DD)", needle)
                continue
            release = ScheduledRelease(stage, state, when, str(item.get("note", "")))
            parsed = release.version
            if parsed is not None and parsed.basic_version != version:
                problem(entry, f"{parsed.text} is not a {version} release", needle)
                continue
            entries.append(release)
        by_version = sorted((r for r in entries if r.version is not None), key=_version_key)
        for earlier, later in pairwise(by_version):
            if later.date < earlier.date:
                problem(f"[[release.\"{version}\"]] (stage \"{later.stage}\")",
                        f"dates out of order: {later.stage} on {later.date} comes before {earlier.stage} "
                        f"on {earlier.date}", f'"{later.stage}"')
        branches.append(BranchInfo(
            version=version, branch=str(meta.get("branch", version)), status=str(status),
            pep=meta.get("pep"), release_manager=meta.get("release-manager"),
            first_release=_iso(meta.get("first-release")), end_of_life=_iso(meta.get("end-of-life")),
            feature_freeze=_iso(meta.get("feature-freeze")), end_of_bugfix=_iso(meta.get("end-of-bugfix")),
            start_of_development=_iso(meta.get("start-of-development")),
            releases=tuple(sorted(entries, key=lambda r: r.date))))
    if problems:
        first, more = problems[0], problems[1:]
        raise UsageError("invalid schedule data:\n  " + "\n  ".join(problems) if more else first,
                         hint="fix the entries named above (stages look like \"3.14.0 beta 2\", \"3.14.0 final\", "
                              "\"3.14.1\"; dates YYYY-MM-DD, in release order)")
    return ReleaseCycle(_sorted(branches), source=source)


def cycle_from_json(data: Any, source: str = "") -> ReleaseCycle:
    if isinstance(data, Mapping) and "metadata" in data and "releases" in data:   # python-releases.json
        toml_like = {"metadata": {v: {k.replace("_", "-"): x for k, x in m.items()} for v, m in data["metadata"].items()},
                     "release": data["releases"]}
        return cycle_from_toml(toml_like, source)
    if not isinstance(data, Mapping):
        raise UsageError("not a release-cycle.json document (expected an object keyed by \"X.Y\")", where=source)
    branches = []
    for version, meta in data.items():
        if not re.fullmatch(r"\d+\.\d+", str(version)) or not isinstance(meta, Mapping):
            raise UsageError(f"bad entry {version!r}: expected \"X.Y\": {{branch, status, …}}", where=source)
        branches.append(BranchInfo(
            version=version, branch=str(meta.get("branch", version)),
            status=_check_status(meta.get("status"), f"{source}: {version}"), pep=meta.get("pep"),
            release_manager=meta.get("release_manager"), first_release=meta.get("first_release"),
            end_of_life=meta.get("end_of_life")))
    return ReleaseCycle(_sorted(branches), source=source)


def parse_cycle(text: str | bytes, source: str) -> ReleaseCycle:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if source.endswith(".toml"):
        try:
            return cycle_from_toml(tomllib.loads(raw), source, raw)
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"malformed TOML: {error}", where=source) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        if raw.lstrip().startswith("[") or "=" in raw.split("\n", 1)[0]:
            try:
                return cycle_from_toml(tomllib.loads(raw), source, raw)
            except tomllib.TOMLDecodeError:
                pass
        raise UsageError(f"malformed or truncated JSON: {error}", where=source,
                         hint="expected release-cycle.json or python-releases.toml") from None
    return cycle_from_json(data, source)


def default_cache_dir() -> Path:
    from ..readiness.waivers import default_state_dir
    return default_state_dir() / "cache"


def resolve_source(source: str, base: Path) -> str:
    """A configured schedule source: URLs as they are, relative paths from `base` (the repository)."""
    if source.startswith(("http://", "https://")) or Path(source).expanduser().is_absolute():
        return source
    return str(base / source)


def load_cycle(source: str | Path, *, cache_dir: Path | None = None, offline: bool = False,
               max_age: float = 6 * 3600, timeout: float = 10.0) -> ReleaseCycle:
    """Load the schedule from a file path or an http(s) URL (cached; usable offline)."""
    text = str(source)
    if not text.startswith(("http://", "https://")):
        path = Path(text).expanduser()
        try:
            return parse_cycle(path.read_bytes(), str(path))
        except FileNotFoundError:
            raise UsageError(f"no such schedule file: {path}",
                             hint="give a python-releases.toml, a release-cycle.json, or a URL") from None
        except (IsADirectoryError, PermissionError) as error:
            raise UsageError(f"cannot read the schedule file: {error}", where=str(path)) from None

    cache = (cache_dir or default_cache_dir()) / ("cycle-" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".json")
    if cache.exists() and (offline or time.time() - cache.stat().st_mtime < max_age):
        cycle = parse_cycle(cache.read_bytes(), text)
        cycle.stale = time.time() - cache.stat().st_mtime >= max_age
        return cycle
    if offline:
        raise UsageError(f"offline, and no cached copy of {text}", hint="run once online, or give a local file")
    import httpx
    try:
        response = httpx.get(text, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        cycle = parse_cycle(response.content, text)
    except (httpx.HTTPError, UsageError) as error:
        if cache.exists():
            cycle = parse_cycle(cache.read_bytes(), text)
            cycle.stale = True
            cycle.warnings.append(f"{text}: {error}; using the cached copy from "
                                  f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(cache.stat().st_mtime))}")
            return cycle
        if isinstance(error, UsageError):
            raise ExternalServiceError(error.message, where=text) from None
        raise ExternalServiceError(f"could not fetch the release-cycle data: {error}", where=text,
                                   hint="give a local file with --cycle, or try again") from None
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_bytes(response.content)
    tmp.replace(cache)
    return cycle


def release_for(cycle: ReleaseCycle, branch: BranchInfo, today: date | None = None) -> Version | None:
    """The release a branch is heading for, from the schedule (None if the data cannot say)."""
    nxt = branch.next_release(today)
    return nxt.version if nxt else None


__all__ = ["BranchInfo", "ReleaseCycle", "ScheduledRelease", "STATUSES", "STAGE_WORDS", "STATES", "DEFAULT_CYCLE_URL",
           "load_cycle", "parse_cycle", "parse_stage", "stage_problem", "cycle_from_toml", "cycle_from_json",
           "release_for", "countdown_phrase"]
