"""One verdict per branch: Releasable / Concern / Unreleasable / N/A, with its evidence.

    verdict = assess_branch("3.14", buildbot_url=URL, tracker="python/cpython",
                            cycle="python-releases.toml", waivers=WaiverStore(state_dir),
                            version=Version.parse("3.14.1"))
    verdict.verdict            # "Unreleasable"
    verdict.as_dict()          # JSON-ready, for `relman status --json` and the run journal

The CLI (`relman status`), the web dashboard and the release runner's readiness pre-flight
all call this module, so they judge with one policy.

Fetching from Buildbot (the costly part) asks only for what a verdict needs: the builders and
workers, the latest few completed builds of each active builder, and — only for builders
whose latest build failed — enough history (up to the dashboard's 200-build window) to find
where the failure streak began. All with `field=` projections, a bounded number of requests
in flight.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..ci.buildbot import FAILURE, SUCCESS, Build, BuildbotClient
from ..schedule.cycle import BranchInfo, ReleaseCycle, load_cycle, release_for
from ..version import Version
from .blockers import GitHubTracker, Issue, judge_blockers
from .severity import (DEFAULT_IDLE_AFTER, HISTORY_WINDOW, INTERESTING, BuilderRecord, LinkFor, Problem,
                       ProblemGroup, Severity, group_problems, judge_builders)
from .waivers import Waiver, WaiverStore, apply_waivers

LATEST_PAGE = 3          # completed builds per builder wanted up front
# Builds are numbered per builder; fewer than `history - EDGE_SLACK` numbers between the latest
# build and the last success means the success is inside the window without asking.
EDGE_SLACK = 20
TIE_ROOM = 5   # failures fetched from the last success's second on, to step over ties
STREAK_PAGE = 64   # a failing builder's newest successes and failures, read in one request
HISTORY_FIELDS = ("buildid", "builderid", "number", "results", "complete", "started_at", "complete_at")


# ---- the Buildbot side ---------------------------------------------------------------------

@dataclass
class BuildbotSnapshot:
    """Active builders (those configured on some worker), with what the rules need."""

    url: str
    records: list[BuilderRecord]
    fetched_at: datetime
    requests: int = 0
    link: LinkFor | None = None


def _newest_first(builds: Iterable[Build]) -> list[Build]:
    return sorted(builds, key=lambda b: (b.complete_at or 0, b.number), reverse=True)


async def fetch_snapshot(client: BuildbotClient, *, tags: Iterable[str] | None = None,
                         history: int = HISTORY_WINDOW) -> BuildbotSnapshot:
    """Read builders, workers and just enough builds from a master (one fresh look, no cache).

    1. builders and workers (projected), concurrently;
    2. the master's most recent completed builds overall, `LATEST_PAGE` per active builder, in
       one request: on a busy master this holds the latest builds of nearly every builder
       (a prefix of each builder's history, since it is ordered by completion time);
    3. for builders absent from it (idle ones), or with nothing but skipped, cancelled,
       retried or exception builds in it, their own latest builds;
    4. for builders whose latest interesting build failed and whose streak does not end
       inside what we have: their newest STREAK_PAGE successes and failures, which hold the
       last success and the first failure after it (the breaking build) unless the streak is
       longer (then: the last success, then the failures from its second on); and, when build
       numbers put that success near the edge of the dashboard's 200-build window, the 200th
       newest build. One or two small requests instead of 200 builds.
    """
    started = client.requests_made
    builders, workers = await asyncio.gather(client.builders(), client.workers())
    configured: set[int] = set()
    connected: set[int] = set()
    for worker in workers:
        configured |= worker.builderids
        if worker.connected:
            connected |= worker.builderids
    wanted = set(tags) if tags is not None else None
    active = [b for b in builders if b.builderid in configured and (wanted is None or wanted & set(b.tags))]
    ids = {b.builderid for b in active}

    known: dict[int, list[Build]] = {b.builderid: [] for b in active}
    window_limit = max(LATEST_PAGE * len(active), 1)
    window = await client.builds(None, limit=window_limit) if active else []
    for build in window:
        if build.builderid in ids:
            known[build.builderid].append(build)
    window_is_everything = len(window) < window_limit

    async def fill(builderid: int) -> None:
        have = known[builderid]
        if any(b.results in INTERESTING for b in have) or window_is_everything and not have:
            return
        if not have or len(have) < LATEST_PAGE:
            have = await client.builds(builderid, limit=LATEST_PAGE)
        if len(have) == LATEST_PAGE and not any(b.results in INTERESTING for b in have):
            have = have + await client.builds(builderid, limit=1, results=INTERESTING)
        known[builderid] = _newest_first({b.number: b for b in have}.values())

    await asyncio.gather(*(fill(b.builderid) for b in active))

    async def streak(builderid: int) -> None:
        have = _newest_first(known[builderid])[:history]
        known[builderid] = have
        interesting = [b for b in have if b.results in INTERESTING]
        if not interesting or interesting[0].results != FAILURE or any(b.results == SUCCESS for b in interesting):
            return

        def near_edge(success: Build) -> bool:     # build numbers put it near the window's edge
            return have[0].number - success.number >= history - EDGE_SLACK

        def the_edge() -> Any:                      # the 200th newest build: the window's oldest
            return client.builds(builderid, limit=1, offset=history - 1, fields=("number", "complete_at"))

        # Usually one request: the newest successes and failures together, the streak starting
        # where the first success appears (the failures before it are newer, oldest last).
        recent = await client.builds(builderid, limit=STREAK_PAGE, results=[SUCCESS, FAILURE],
                                     fields=HISTORY_FIELDS)
        found = next((i for i, b in enumerate(recent) if b.results == SUCCESS), None)
        edge: list[Build] = []
        if found is not None:
            last_success, first = recent[found], list(reversed(recent[:found]))
            if near_edge(last_success):
                edge = await the_edge()
        elif len(recent) < STREAK_PAGE:
            return                          # never succeeded: the streak's start is unknown
        else:                               # a streak longer than the page: the two-step way
            success = await client.builds(builderid, limit=1, results=[SUCCESS], fields=HISTORY_FIELDS)
            if not success:
                return
            last_success = success[0]
            # Completion times are whole seconds: ask from the success's second on, drop what is not after it.
            failures = client.builds(builderid, limit=TIE_ROOM, results=[FAILURE], fields=HISTORY_FIELDS,
                                     completed_since=last_success.complete_at, oldest_first=True)
            if near_edge(last_success):
                edge, first = await asyncio.gather(the_edge(), failures)
            else:
                first = await failures
        if edge and ((last_success.complete_at or 0), last_success.number) < \
                ((edge[0].complete_at or 0), edge[0].number):
            return                          # outside the dashboard's 200-build window: unknown
        after = [b for b in first if ((b.complete_at or 0), b.number) > ((last_success.complete_at or 0),
                                                                         last_success.number)]
        known[builderid] = _newest_first({b.number: b for b in [*have, *after[:1], last_success]}.values())

    await asyncio.gather(*(streak(b.builderid) for b in active))
    records = [BuilderRecord(b, b.builderid in connected, tuple(_newest_first(known[b.builderid]))) for b in active]
    return BuildbotSnapshot(client.root, records, datetime.now(tz=timezone.utc),
                            client.requests_made - started, client.build_url)


# ---- the verdict ---------------------------------------------------------------------------

@dataclass
class Verdict:
    branch: str                      # "3.14", "main"
    version_label: str               # "3.14" (the X.Y of the branch)
    tag: str                         # the builders' branch tag: "3.14", "3.x"
    status: str | None               # schedule status: feature, prerelease, bugfix, security, end-of-life
    version: str | None              # the release being judged for, when known
    verdict: str                     # Releasable | Concern | Unreleasable | N/A
    severity: Severity
    featured_problem: Problem | None
    problems: list[Problem]
    groups: list[ProblemGroup]
    blockers: list[Problem]
    waivers: list[Waiver]
    builders: int
    generated_at: datetime
    sources: dict[str, Any] = field(default_factory=dict)
    countdown: str | None = None

    @property
    def releasable(self) -> bool:
        return self.verdict in ("Releasable",)

    def as_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "version_label": self.version_label,
            "tag": self.tag,
            "status": self.status,
            "version": self.version,
            "verdict": self.verdict,
            "severity": self.severity.name,
            "featured_problem": self.featured_problem.as_dict() if self.featured_problem else None,
            "groups": [g.as_dict() for g in self.groups],
            "problems": [p.as_dict() for p in self.problems],
            "blockers": [p.as_dict() for p in self.blockers],
            "waivers": [w.as_dict() for w in self.waivers],
            "builders": self.builders,
            "countdown": self.countdown,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "sources": self.sources,
        }


def builders_of_branch(records: Sequence[BuilderRecord], tag: str, branch_tags: Sequence[str]) -> list[BuilderRecord]:
    """As the dashboard: a builder belongs to the first branch (newest first) whose tag it carries."""
    out = []
    for record in records:
        first = next((t for t in branch_tags if t in record.tags), None)
        if first == tag:
            out.append(record)
    return out


def judge_branch(info: BranchInfo, *, records: Sequence[BuilderRecord], branch_tags: Sequence[str] | None = None,
                 issues: Iterable[Issue] = (), waivers: Iterable[Waiver] = (), version: Version | None = None,
                 now: datetime | None = None, idle_after: timedelta | None = DEFAULT_IDLE_AFTER,
                 link: LinkFor | None = None, sources: dict[str, Any] | None = None) -> Verdict:
    """The pure policy: one branch's verdict from plain data (no I/O)."""
    now = now or datetime.now(tz=timezone.utc)
    mine = builders_of_branch(records, info.tag, branch_tags or [info.tag])
    builder_problems = judge_builders(mine, now=now, idle_after=idle_after, link=link)
    blocker_problems = judge_blockers(issues, version_label=info.version, version=version)
    problems, used = apply_waivers([*builder_problems, *blocker_problems], waivers, branch=info.branch, now=now)
    problems.sort(key=Problem.sort_key)
    if problems:
        featured = problems[0]
        severity = featured.effective_severity
    else:
        featured, severity = None, Severity.NO_INFO
    blockers = [p for p in problems if p.issue is not None]
    return Verdict(branch=info.branch, version_label=info.version, tag=info.tag, status=info.status,
                   version=version.text if version else None, verdict=severity.verdict, severity=severity,
                   featured_problem=featured, problems=problems, groups=group_problems(problems), blockers=blockers,
                   waivers=used, builders=len(mine), generated_at=now, sources=dict(sources or {}),
                   countdown=info.countdown(now.date()))


# ---- the entry points: CLI, runner and dashboard ---------------------------------------------

TrackerLike = GitHubTracker | str | Sequence[Issue] | None
CycleLike = ReleaseCycle | str | Path | None
WaiversLike = WaiverStore | Sequence[Waiver] | None


def resolve_cycle(cycle: CycleLike, *, offline: bool = False) -> ReleaseCycle | None:
    if cycle is None or isinstance(cycle, ReleaseCycle):
        return cycle
    return load_cycle(cycle, offline=offline)


def cycle_from_tags(records: Sequence[BuilderRecord]) -> ReleaseCycle:
    """Without schedule data: one branch per branch tag seen on builders (status unknown)."""
    seen: dict[str, BranchInfo] = {}
    for record in records:
        for tag in record.tags:
            if tag == "3.x":
                seen.setdefault("main", BranchInfo(version="main", branch="main", status="unknown"))
            elif re.fullmatch(r"\d+\.\d+", tag):
                seen.setdefault(tag, BranchInfo(version=tag, branch=tag, status="unknown"))
    ordered = sorted(seen.values(), key=lambda b: (b.branch != "main",
                                                   [-int(p) for p in b.version.split(".")] if b.branch != "main" else []))
    return ReleaseCycle({b.version: b for b in ordered}, source="builder tags")


async def assess_async(branches: Sequence[str] | None = None, *, buildbot_url: str | None,
                       tracker: TrackerLike = None, cycle: CycleLike = None, waivers: WaiversLike = None,
                       version: Version | str | None = None, now: datetime | None = None,
                       idle_after: timedelta | None = DEFAULT_IDLE_AFTER, concurrency: int = 8,
                       include_inactive: bool = False, offline: bool = False) -> list[Verdict]:
    """Verdicts for the named branches (or every active branch), from one look at each source."""
    now = now or datetime.now(tz=timezone.utc)
    if isinstance(version, str):
        version = Version.parse(version)
    schedule = resolve_cycle(cycle, offline=offline)

    async def snapshot() -> BuildbotSnapshot | None:
        if not buildbot_url:
            return None
        async with BuildbotClient(buildbot_url, concurrency=concurrency) as client:
            return await fetch_snapshot(client)

    async def issues() -> list[Issue]:
        if tracker is None:
            return []
        if isinstance(tracker, (str, GitHubTracker)):
            client = tracker if isinstance(tracker, GitHubTracker) else GitHubTracker(tracker)
            return await client.blockers()
        return list(tracker)

    snap, found_issues = await asyncio.gather(snapshot(), issues())
    records = snap.records if snap else []
    if schedule is None:
        schedule = cycle_from_tags(records)
    if branches:
        infos = [schedule.find(b) for b in branches]
        if version is not None and len(infos) == 1 and infos[0].version not in ("main", version.basic_version):
            from ..errors import UsageError
            raise UsageError(f"version {version.text} is not on branch {infos[0].branch}",
                             hint=f"{version.text} is released from {version.branch}")
    elif version is not None:
        found = schedule.for_version(version)
        infos = [found] if found else [schedule.find(version.branch)]
    else:
        infos = [b for b in schedule.branches.values() if include_inactive or b.active]
    branch_tags = [b.tag for b in schedule.branches.values() if b.active or include_inactive]
    waiver_list = (waivers.load() if isinstance(waivers, WaiverStore) else list(waivers or []))
    sources = {"buildbot": snap.url if snap else None, "buildbot_requests": snap.requests if snap else 0,
               "tracker": getattr(tracker, "base", tracker) if isinstance(tracker, (str, GitHubTracker)) else
               ("recorded" if tracker is not None else None),
               "cycle": schedule.source, "cycle_stale": schedule.stale}
    verdicts = []
    for info in infos:
        target = version if version is not None and (info.version == version.basic_version or
                                                     (info.branch == "main" and version.branch == "main")) \
            else release_for(schedule, info, now.date())
        verdicts.append(judge_branch(info, records=records, branch_tags=branch_tags, issues=found_issues,
                                     waivers=waiver_list, version=target, now=now, idle_after=idle_after,
                                     link=snap.link if snap else None, sources=sources))
    return verdicts


def assess(branches: Sequence[str] | None = None, **kwargs: Any) -> list[Verdict]:
    """Synchronous `assess_async`."""
    return asyncio.run(assess_async(branches, **kwargs))


def assess_branch(branch: str | None, *, buildbot_url: str | None, tracker: TrackerLike = None,
                  cycle: CycleLike = None, waivers: WaiversLike = None, version: Version | str | None = None,
                  now: datetime | None = None, idle_after: timedelta | None = DEFAULT_IDLE_AFTER) -> Verdict:
    """The verdict for one branch (or, with branch=None, for the branch `version` is released from).

    This is what the release runner's readiness pre-flight calls: Unreleasable stops the run
    unless waived or approved at the gate, Concern is a gate; store `verdict.as_dict()` in the
    journal. Raises ExternalServiceError when a source cannot be read.
    """
    if branch is None and version is None:
        from ..errors import UsageError
        raise UsageError("assess_branch needs a branch or a version")
    found = assess([branch] if branch else None, buildbot_url=buildbot_url, tracker=tracker, cycle=cycle,
                   waivers=waivers, version=version, now=now, idle_after=idle_after)
    return found[0]
