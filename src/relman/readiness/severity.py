"""The severity rules of CPython's release status dashboard, and what a verdict is made of.

The dashboard (python/buildmaster-config, `release_dashboard.py`) judges each builder of a
branch and ranks the problems it finds on one ordered scale. Reproduced here faithfully:

- a builder's tier comes from its `tier-N` tag (no tag: "Tierless"); tiers 1 and 2 can block
  a release; a builder is stable when it has the `stable` tag;
- only SUCCESS, WARNINGS and FAILURE builds are *interesting*: skipped, exception, retry and
  cancelled builds are passed over when looking for the latest build (they say nothing about
  the code), and so are unfinished ones;
- latest interesting build WARNINGS → "Warnings from Tier-N build" / "Warnings from
  unstable build"; FAILURE → "Tier-N build failed" / "Unstable build failed", with the first
  failing build of the current streak ("Breaking build": walk back over failures and
  warnings until a success; none found in the window → unknown);
- no interesting build at all → "No builds" (no information; nothing else is judged);
- no connected worker → "Disconnected Tier-N builder" / "Disconnected unstable builder";
  when its latest interesting build started less than 6 hours ago the description gains
  " (with recent build)" and the severity is clamped (BLOCKING → CONCERNING, CONCERNING →
  TRIVIAL). In the dashboard's ordering every disconnected severity already sits below
  CONCERNING, so the clamp never changes a verdict; we keep that behaviour as it is;
- a builder without problems contributes "No problem detected".

Severity order (low → high): NO_INFO < NO_PROBLEM < disconnected unstable < unstable warnings
< unstable failure < TRIVIAL < stable warnings < disconnected stable < disconnected blocking <
CONCERNING < non-blocking failure < BLOCKING < release-blocking failure. The verdict is
Unreleasable at BLOCKING or above, Concern at CONCERNING or above, N/A for NO_INFO, else
Releasable.

Added by relman (documented in docs/readiness.md):
- a builder whose latest interesting build is older than `idle_after` (14 days by default) is
  reported as "Idle Tier-N builder" below CONCERNING: it neither blocks nor raises a concern,
  because a stale red builder says nothing about today's code (the runner's old rule made it
  block forever); its last result is kept as evidence;
- release-blocker and deferred-blocker issues (see blockers.py) join the same scale;
- waivers: a waived problem stays listed, with its waiver, but counts as TRIVIAL;
- every problem carries its evidence: builder, build number, result, when, link.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..ci.buildbot import FAILURE, SUCCESS, WARNINGS, Build, Builder

INTERESTING = (SUCCESS, WARNINGS, FAILURE)
DEFAULT_IDLE_AFTER = timedelta(days=14)
RECENT_BUILD = timedelta(hours=6)
HISTORY_WINDOW = 200   # the dashboard looks at the last 200 completed builds of a builder


class Severity(enum.IntEnum):
    NO_INFO = enum.auto()

    NO_PROBLEM = enum.auto()
    disconnected_unstable_builder = enum.auto()
    unstable_warnings = enum.auto()
    unstable_builder_failure = enum.auto()

    TRIVIAL = enum.auto()
    stable_warnings = enum.auto()
    disconnected_stable_builder = enum.auto()
    disconnected_blocking_builder = enum.auto()
    idle_builder = enum.auto()                  # relman: reported, never blocking
    deferred_blocker_later = enum.auto()         # relman: deferred to a later release

    CONCERNING = enum.auto()
    deferred_blocker = enum.auto()               # relman: target release unknown
    nonblocking_failure = enum.auto()

    BLOCKING = enum.auto()
    release_blocking_failure = enum.auto()
    release_blocker = enum.auto()                # relman: an open release-blocker issue

    @property
    def verdict(self) -> str:
        if self == Severity.NO_INFO:
            return "N/A"
        if self >= Severity.BLOCKING:
            return "Unreleasable"
        if self >= Severity.CONCERNING:
            return "Concern"
        return "Releasable"


VERDICTS = ("Releasable", "Concern", "Unreleasable", "N/A")


@dataclass(frozen=True)
class Evidence:
    """One fact behind a problem: a build (with its link) or an issue."""

    label: str                       # "Latest build", "Breaking build", "Last build", "Issue"
    builder: str | None = None
    build: int | None = None         # the builder's build number
    result: str | None = None        # success, warnings, failure, …
    when: str | None = None          # ISO 8601 UTC
    url: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Problem:
    kind: str                        # build_failure, build_warnings, disconnected, no_builds, idle,
                                     # no_problem, release_blocker, deferred_blocker
    severity: Severity
    description: str                 # the grouping key, as the dashboard words it
    builder: str | None = None
    tier: str | None = None
    issue: int | None = None
    detail: str = ""
    evidence: tuple[Evidence, ...] = ()
    waiver: Any = None               # a readiness.waivers.Waiver when one is in force

    @property
    def effective_severity(self) -> Severity:
        if self.waiver is not None and self.severity > Severity.TRIVIAL:
            return Severity.TRIVIAL
        return self.severity

    @property
    def target(self) -> str | None:
        """What a waiver names: `builder:<name>` or `issue:<number>`."""
        if self.issue is not None:
            return f"issue:{self.issue}"
        if self.builder is not None:
            return f"builder:{self.builder}"
        return None

    @property
    def label(self) -> str:
        return self.description + (" (waived)" if self.waiver is not None else "")

    def sort_key(self) -> tuple:
        return (-self.effective_severity, self.label, self.builder or "", self.issue or 0)

    def with_waiver(self, waiver: Any) -> Problem:
        return replace(self, waiver=waiver)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "description": self.label,
            "severity": self.effective_severity.name,
            "verdict": self.effective_severity.verdict,
            "builder": self.builder,
            "tier": self.tier,
            "issue": self.issue,
            "detail": self.detail,
            "evidence": [e.as_dict() for e in self.evidence],
        }
        if self.waiver is not None:
            out["severity_unwaived"] = self.severity.name
            out["waiver"] = self.waiver.as_dict()
        return out


@dataclass(frozen=True)
class BuilderRecord:
    """What the rules need about one builder: its tags, connection, recent completed builds.

    `builds` are completed builds, newest first (by completion). They may be a prefix of the
    builder's history: the latest ones, plus — for a failing builder — enough of the window to
    find where the failure streak began.
    """

    builder: Builder
    connected: bool
    builds: tuple[Build, ...] = ()

    @property
    def name(self) -> str:
        return self.builder.name

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(self.builder.tags)

    @property
    def tier_value(self) -> int:
        for n in (1, 2, 3):
            if f"tier-{n}" in self.tags:
                return n
        return 99

    @property
    def tier_title(self) -> str:
        value = self.tier_value
        return f"Tier-{value}" if value != 99 else "Tierless"

    @property
    def is_stable(self) -> bool:
        return "stable" in self.tags

    @property
    def is_release_blocking(self) -> bool:
        return self.tier_value in (1, 2)

    def interesting_builds(self) -> Iterable[Build]:
        return (b for b in self.builds if b.complete and b.results in INTERESTING)


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


def _age(build: Build, now: datetime) -> timedelta | None:
    if not build.started_at:
        return None
    return now - datetime.fromtimestamp(build.started_at, tz=timezone.utc)


LinkFor = Callable[[int, int], str]   # (builderid, number) -> URL


def build_evidence(label: str, record: BuilderRecord, build: Build, link: LinkFor | None,
                   note: str | None = None) -> Evidence:
    return Evidence(label=label, builder=record.name, build=build.number, result=build.result_name,
                    when=_when(build.complete_at or build.started_at),
                    url=link(record.builder.builderid, build.number) if link else None, note=note)


def judge_builder(record: BuilderRecord, *, now: datetime, idle_after: timedelta | None = DEFAULT_IDLE_AFTER,
                  link: LinkFor | None = None) -> list[Problem]:
    """The problems of one builder (empty when there is none)."""
    tier = record.tier_title if record.is_stable else "unstable"
    latest = next(iter(record.interesting_builds()), None)
    if latest is None:
        skipped = [b for b in record.builds if b.complete]
        note = (f"{len(skipped)} completed build(s), none succeeded, warned or failed "
                f"(latest: #{skipped[0].number} {skipped[0].result_name})") if skipped else None
        evidence = (build_evidence("Latest completed build", record, skipped[0], link, note),) if skipped else ()
        return [Problem("no_builds", Severity.NO_INFO, "No builds", builder=record.name, tier=tier,
                        detail=note or "the builder has no completed build", evidence=evidence)]

    problems: list[Problem] = []
    passed_over = [b for b in record.builds if b.complete and b.results not in INTERESTING
                   and (b.complete_at or 0) >= (latest.complete_at or 0)]
    skip_note = ("newer build(s) passed over: " + ", ".join(f"#{b.number} {b.result_name}" for b in passed_over)
                 ) if passed_over else None
    age = _age(latest, now)
    if idle_after is not None and age is not None and age > idle_after:
        problems.append(Problem(
            "idle", Severity.idle_builder, f"Idle {tier} builder", builder=record.name, tier=tier,
            detail=f"no build for {age.days} days (more than {idle_after.days}); its last build "
                   f"{latest.result_name} and does not count against the release",
            evidence=(build_evidence("Last build", record, latest, link, skip_note),)))
    elif latest.results == WARNINGS:
        if record.is_stable:
            severity, description = Severity.stable_warnings, f"Warnings from {record.tier_title} build"
        else:
            severity, description = Severity.unstable_warnings, "Warnings from unstable build"
        problems.append(Problem("build_warnings", severity, description, builder=record.name, tier=tier,
                                detail=f"build #{latest.number} finished with warnings",
                                evidence=(build_evidence("Warning build", record, latest, link, skip_note),)))
    elif latest.results == FAILURE:
        first_failing: Build | None = None
        found_success = False
        for build in record.interesting_builds():
            if build.results == FAILURE:
                first_failing = build
            elif build.results == SUCCESS:
                found_success = True
                break
        if not found_success:
            first_failing = None   # the streak goes back past the window: its start is unknown
        if not record.is_stable:
            severity, description = Severity.unstable_builder_failure, "Unstable build failed"
        elif record.is_release_blocking:
            severity, description = Severity.release_blocking_failure, f"{record.tier_title} build failed"
        else:
            severity, description = Severity.nonblocking_failure, f"{record.tier_title} build failed"
        failure_evidence = [build_evidence("Latest build", record, latest, link, skip_note)]
        if first_failing is not None and first_failing.number != latest.number:
            failure_evidence.append(build_evidence("Breaking build", record, first_failing, link))
        streak = (f"failing since build #{first_failing.number}" if first_failing is not None
                  else "no success in the builds looked at: the start of the failure streak is unknown")
        problems.append(Problem("build_failure", severity, description, builder=record.name, tier=tier,
                                detail=f"build #{latest.number} failed; {streak}",
                                evidence=tuple(failure_evidence)))

    if not record.connected:
        if not record.is_stable:
            severity, description = Severity.disconnected_unstable_builder, "Disconnected unstable builder"
        else:
            description = f"Disconnected {record.tier_title} builder"
            severity = (Severity.disconnected_blocking_builder if record.is_release_blocking
                        else Severity.disconnected_stable_builder)
        if age is not None and age < RECENT_BUILD:
            description += " (with recent build)"
            if severity >= Severity.BLOCKING:
                severity = Severity.CONCERNING
            if severity >= Severity.CONCERNING:
                severity = Severity.TRIVIAL
        problems.append(Problem("disconnected", severity, description, builder=record.name, tier=tier,
                                detail="no connected worker can run this builder",
                                evidence=(build_evidence("Last build", record, latest, link),)))
    return problems


def no_problem(record: BuilderRecord, link: LinkFor | None = None) -> Problem:
    latest = next(iter(record.interesting_builds()), None)
    evidence = (build_evidence("Latest build", record, latest, link),) if latest else ()
    return Problem("no_problem", Severity.NO_PROBLEM, "No problem detected", builder=record.name,
                   tier=record.tier_title if record.is_stable else "unstable", evidence=evidence)


def judge_builders(records: Sequence[BuilderRecord], *, now: datetime | None = None,
                   idle_after: timedelta | None = DEFAULT_IDLE_AFTER, link: LinkFor | None = None) -> list[Problem]:
    """Every builder's problems, or "No problem detected" for a builder without any."""
    now = now or datetime.now(tz=timezone.utc)
    out: list[Problem] = []
    for record in sorted(records, key=lambda r: r.name):
        found = judge_builder(record, now=now, idle_after=idle_after, link=link)
        out.extend(found or [no_problem(record, link)])
    return out


@dataclass(frozen=True)
class ProblemGroup:
    description: str
    severity: Severity
    count: int
    problems: tuple[Problem, ...] = field(default=(), repr=False)

    @property
    def title(self) -> str:
        return f"{self.description} ({self.count})"

    def as_dict(self) -> dict[str, Any]:
        return {"description": self.description, "severity": self.severity.name,
                "verdict": self.severity.verdict, "count": self.count,
                "builders": [p.builder for p in self.problems if p.builder],
                "issues": [p.issue for p in self.problems if p.issue is not None]}


def group_problems(problems: Sequence[Problem]) -> list[ProblemGroup]:
    """Problems grouped by description, worst group first: "Tier-1 build failed (5)"."""
    groups: dict[str, list[Problem]] = {}
    for problem in sorted(problems, key=Problem.sort_key):
        groups.setdefault(problem.label, []).append(problem)
    return [ProblemGroup(label, max(p.effective_severity for p in items), len(items), tuple(items))
            for label, items in groups.items()]
