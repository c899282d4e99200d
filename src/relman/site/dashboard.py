"""`/`: the release status dashboard — each branch's readiness verdict, kept fresh in the background.

The verdicts come from the same library call as `relman status` (`readiness.sources`). A page
view never waits on Buildbot: a background task refreshes the verdicts and renders the page
once per refresh; requests are answered from those bytes (with an ETag, so the page's small
polling script gets 304s until something changed).

Freshness: the refresher follows Buildbot's server-sent events (`/sse/listen/builds/*/finished`
and workers connecting or going away) and judges again as soon as one arrives (once per
burst), so the page is about one judgement behind the master; while that stream is up it
also takes a full look every EVENTS_BACKSTOP_S. Without the stream it polls every
`refresh_s` (5 s by default). A change of the local inputs (the waivers file, a schedule
file) is noticed within `refresh_s`. The tracker is read at most every `tracker_refresh_s`
(60 s) because GitHub rations its API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..ci.buildbot import api_root
from ..errors import RelmanError
from ..readiness.blockers import Issue
from ..readiness.severity import Severity
from ..readiness.sources import ReadinessSources, assess_sources_async
from ..readiness.verdict import Verdict
from .app import Site, make_templates
from .cache import cached_response, etag_of, install_filters, verdict_class
from .judging import JudgingProcess, JudgingProcessError

log = logging.getLogger("relman.site.dashboard")

DEFAULT_REFRESH_S = 5.0
DEFAULT_TRACKER_REFRESH_S = 60.0
DEBOUNCE_S = 0.3          # Buildbot events come in bursts: judge once per burst
EVENTS_BACKSTOP_S = 60.0  # while Buildbot's events arrive, a full look this often regardless


def sources_of(site: Site) -> ReadinessSources:
    """The readiness sources the site was started with (`relman serve --buildbot … --cycle …`)."""
    found = site.options.get("readiness")
    if isinstance(found, ReadinessSources):
        return found
    return ReadinessSources.resolve(None, buildbot=site.options.get("buildbot"), tracker=site.options.get("tracker"),
                                    cycle=site.options.get("cycle"), state_dir=site.state_dir)


@dataclass
class Snapshot:
    """One refresh: the verdicts and when they were judged, or why they could not be."""

    verdicts: list[Verdict] = field(default_factory=list)
    judged_at: datetime | None = None
    error: str | None = None
    error_at: datetime | None = None
    refreshes: int = 0

    def judged(self, verdicts: list[Verdict]) -> Snapshot:
        """The next snapshot, with fresh verdicts."""
        return Snapshot(verdicts, datetime.now(tz=UTC), refreshes=self.refreshes + 1)

    def failed(self, why: str) -> Snapshot:
        """The next snapshot when judging failed: the last verdicts kept, the failure said, and
        since when failures have lasted."""
        return Snapshot(self.verdicts, self.judged_at, why, self.error_at if self.error else datetime.now(tz=UTC),
                        self.refreshes + 1)


class DashboardState:
    """The cached dashboard: the latest snapshot and its rendered page and fragment."""

    def __init__(self, site: Site):
        self.site = site
        install_filters(site.templates)
        self.sources = sources_of(site)
        self.refresh_s = float(site.options.get("refresh_s", DEFAULT_REFRESH_S))
        self.tracker_refresh_s = float(site.options.get("tracker_refresh_s", DEFAULT_TRACKER_REFRESH_S))
        self.cached = bool(site.options.get("cache", True))
        self.snapshot = Snapshot()
        self.following = "not started"     # how the refresher learns of changes (shown on the page)
        self.events_connected = False
        self._issues: list[Issue] | None = None
        self._issues_at = 0.0
        self._wake = asyncio.Event()
        self._pages: dict[str, tuple[bytes, str]] = {}
        self._tasks: list[asyncio.Task] = []
        self._refreshing = threading.Lock()
        self._judging = JudgingProcess()
        self._render()

    # ---- refreshing ----------------------------------------------------------------------
    async def refresh(self) -> Snapshot:
        """Judge every branch once and re-render; a failure keeps the last good verdicts.

        The cached dashboard judges and renders in its judging process (`site.judging`: that
        CPU work must not share this process's interpreter lock with the loop serving pages)
        and only swaps the finished bytes in here. The uncached peer of the benchmark judges
        in a thread, as a dashboard without a cache would."""
        tracker_failure: str | None = None
        try:
            issues = await self._tracker_issues()
        except RelmanError as error:
            issues, tracker_failure = None, str(error).splitlines()[0]
        except httpx.HTTPError as error:
            issues, tracker_failure = None, f"{self.sources.tracker}: {type(error).__name__}: {error}"
        args = (self.sources, issues, tracker_failure, self.snapshot, self.following, self.refresh_s)
        if self.cached:
            snap, pages = await self._in_judging_process(args)
        else:
            snap, pages = await asyncio.to_thread(judge_and_render, *args)
        with self._refreshing:                 # one snapshot (and its pages) replaced at a time
            self.snapshot, self._pages = snap, pages
        return snap

    async def _in_judging_process(self, args: tuple) -> tuple[Snapshot, dict[str, tuple[bytes, str]]]:
        try:
            return await self._judging.call("judge_and_render", *args)
        except JudgingProcessError as error:
            snap = self.snapshot.failed(str(error))
            return snap, render_pages(self.site.templates, snap, self.sources, self.following, self.refresh_s)

    async def _tracker_issues(self) -> list[Issue] | None:
        client = self.sources.tracker_client()
        if client is None:
            return None
        if self._issues is None or time.monotonic() - self._issues_at >= self.tracker_refresh_s:
            self._issues = list(await client.blockers())
            self._issues_at = time.monotonic()
        return self._issues

    def wake(self) -> None:
        """Something changed on Buildbot: judge again soon."""
        self._wake.set()

    def _local_stamp(self) -> tuple:
        """When the local inputs (the waivers file, a schedule file) last changed."""
        stamps = []
        for path in (self.sources.waivers().path, Path(self.sources.cycle) if self.sources.cycle and
                     "://" not in self.sources.cycle else None):
            try:
                stamps.append(path.stat().st_mtime_ns if path is not None else None)
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    async def run(self) -> None:
        """The refresher: judge again when Buildbot reports a change (woken), when a local input
        changed, and every `refresh_s` — or, while Buildbot's event stream is connected and
        tells us of every finished build and worker change, every EVENTS_BACKSTOP_S."""
        while True:
            started = time.monotonic()
            stamp = self._local_stamp()
            try:
                await self.refresh()
            except Exception:  # a bug in one refresh must not stop the dashboard
                log.exception("dashboard refresh failed")
            self._wake.clear()
            while True:
                interval = EVENTS_BACKSTOP_S if self.events_connected else self.refresh_s
                remaining = max(self.refresh_s, interval) - (time.monotonic() - started)
                if remaining <= 0:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(remaining, self.refresh_s))
                    await asyncio.sleep(DEBOUNCE_S)
                    break
                if self._local_stamp() != stamp:
                    break

    async def follow_buildbot(self) -> None:
        """Wake the refresher on Buildbot's own notifications (server-sent events); polling
        goes on regardless, so a master without them, or a dropped stream, only costs latency."""
        if not self.sources.buildbot:
            self.following = f"schedule and tracker only, every {self.refresh_s:g} s"
            return
        root = api_root(self.sources.buildbot).removesuffix("/api/v2")
        delay = 1.0
        while True:
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
                        client.stream("GET", f"{root}/sse/listen/builds/*/finished") as response:
                    response.raise_for_status()
                    event = ""
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "handshake":
                            consumer = line[5:].strip()
                            await client.get(f"{root}/sse/add/{consumer}/workers/*/*")
                            self.following = "following Buildbot's events"
                            self.events_connected = True
                            delay = 1.0
                        elif line.startswith("data:"):
                            self.wake()
            except (httpx.HTTPError, OSError):
                pass
            self.events_connected = False
            self.following = f"polling Buildbot every {self.refresh_s:g} s"
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    # ---- rendering -----------------------------------------------------------------------
    def _render(self) -> None:
        self._pages = render_pages(self.site.templates, self.snapshot, self.sources, self.following, self.refresh_s)

    def start(self) -> None:
        """Start the refresher and the Buildbot follower in the running loop (once)."""
        if not self.cached or self._tasks and not all(t.done() for t in self._tasks):
            return              # (uncached, the benchmark's peer, every view judges: nothing to keep fresh)
        self._tasks = [asyncio.create_task(self.run(), name="dashboard-refresher"),
                       asyncio.create_task(self.follow_buildbot(), name="dashboard-buildbot-events")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._judging.stop()

    async def page(self, name: str) -> tuple[bytes, str]:
        self.start()            # served without a lifespan (an embedding app): start on first view
        if not self.cached:     # the benchmark's peer: judge and render for every request
            await self.refresh()
        return self._pages[name]

    def as_json(self) -> dict[str, Any]:
        snap = self.snapshot
        return {"verdicts": [v.as_dict() for v in snap.verdicts],
                "judged_at": snap.judged_at.isoformat(timespec="seconds") if snap.judged_at else None,
                "error": snap.error, "refreshes": snap.refreshes, "following": self.following,
                "buildbot_events": self.events_connected}


_CHILD_TEMPLATES: Environment | None = None


def judge_and_render(sources: ReadinessSources, issues: list[Issue] | None, tracker_failure: str | None,
                     previous: Snapshot, following: str, refresh_s: float
                     ) -> tuple[Snapshot, dict[str, tuple[bytes, str]]]:
    """One refresh, from the sources to the page's bytes: the verdicts (or why there are none,
    keeping the previous ones) and the rendered page and fragment. Runs in the dashboard's
    judging process (hence plain, picklable arguments and results)."""
    global _CHILD_TEMPLATES
    failure = tracker_failure
    verdicts: list[Verdict] | None = None
    if failure is None:
        try:
            verdicts = asyncio.run(assess_sources_async(sources, issues=issues))
        except RelmanError as error:
            failure = str(error).splitlines()[0]
        except httpx.HTTPError as error:   # one the client did not word (e.g. a corrupt gzip body)
            failure = f"{sources.buildbot}: {type(error).__name__}: {error}"
    snap = previous.judged(verdicts) if verdicts is not None else previous.failed(failure or "no verdicts")
    if _CHILD_TEMPLATES is None:
        _CHILD_TEMPLATES = make_templates()
        install_filters(_CHILD_TEMPLATES)
    return snap, render_pages(_CHILD_TEMPLATES, snap, sources, following, refresh_s)


def render_pages(templates: Environment, snap: Snapshot, sources: ReadinessSources, following: str,
                 refresh_s: float) -> dict[str, tuple[bytes, str]]:
    """The dashboard page and its live fragment for one snapshot, with their ETags."""
    ctx = {"snapshot": snap, "branches": [branch_view(v) for v in snap.verdicts], "sources": sources,
           "following": following, "refresh_s": refresh_s}
    pages = {}
    for name, template in (("page", "dashboard.html"), ("fragment", "dashboard_verdicts.html")):
        body = templates.get_template(template).render(request=None, **ctx).encode()
        pages[name] = (body, etag_of(body))
    return pages


def problem_class(severity: Severity) -> str:
    """A problem's colour: red blocks, amber is a concern, green is no problem, and problems
    that count against nothing (warnings of unstable builders, disconnected ones) are "minor"."""
    if severity == Severity.NO_INFO:
        return "na"
    if severity == Severity.NO_PROBLEM:
        return "releasable"
    if severity < Severity.CONCERNING:
        return "minor"
    return verdict_class(severity.verdict)


def branch_view(verdict: Verdict) -> dict[str, Any]:
    """What the template shows for one branch (problems as plain dicts, the featured one first)."""
    data = verdict.as_dict()
    featured = verdict.featured_problem
    show_featured = featured is not None and featured.effective_severity > Severity.NO_PROBLEM
    groups = []
    by_label: dict[str, list[dict[str, Any]]] = {}
    for problem in verdict.problems:
        by_label.setdefault(problem.label, []).append(problem.as_dict())
    for group in verdict.groups:
        groups.append({"description": group.description, "count": group.count,
                       "verdict_class": problem_class(group.severity),
                       "open": group.severity >= Severity.CONCERNING,
                       "problems": by_label.get(group.description, [])})
    return {**data, "verdict_class": verdict_class(verdict.verdict),
            "featured": featured.as_dict() if show_featured and featured is not None else None,
            "featured_class": problem_class(featured.effective_severity) if featured is not None else "na",
            "group_views": groups}


def _state(site: Site) -> DashboardState:
    state = site.services.get("dashboard")
    if state is None:
        state = site.services["dashboard"] = DashboardState(site)
    return state


def routes(site: Site) -> list[BaseRoute]:
    async def dashboard(request: Request) -> Response:
        return cached_response(request, *await _state(site).page("page"))

    async def fragment(request: Request) -> Response:
        return cached_response(request, *await _state(site).page("fragment"))

    async def status_json(request: Request) -> Response:
        return JSONResponse(_state(site).as_json(), headers={"Cache-Control": "no-cache"})

    return [Route("/", dashboard, name="dashboard"),
            Route("/status/fragment", fragment, name="dashboard-fragment"),
            Route("/status.json", status_json, name="dashboard-json")]


@contextlib.asynccontextmanager
async def lifespan(site: Site) -> AsyncIterator[None]:
    """While the app serves: the refresher, and the Buildbot follower that wakes it."""
    state = _state(site)
    state.start()
    try:
        yield
    finally:
        await state.stop()
