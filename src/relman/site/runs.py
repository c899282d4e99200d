"""`/runs/`: release runs from the journal, live — steps, gates, waits, the event log — and gates
approved or refused from the browser.

Everything is read through the journal's public methods (`runs`, `get_run`, `steps`,
`events`, `approvals`, `attempts`) and rendered once per journal version (`cache.JournalCache`).
The pages carry small live regions that poll a fragment URL with an ETag, so watching a run
costs a 304 per second until something happens.

A gate decision is written with `Journal.record_approval`, the method the runner uses for a
terminal approval, with who (the API key's user), how ("web:<remote address>") and when. A
runner still going picks the approval up from the journal (see `Runner`); otherwise the next
`relman run` resumes with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..engine.journal import DONE, FAILED, PAUSED, RUNNING, Journal, StepRow
from ..engine.runner import APPROVED, DECLINED
from ..errors import UsageError
from .app import Site
from .cache import JournalCache, cached_response, install_filters

# Typographic marks every font has (the state is also written out beside them).
STATE_ICONS = {"done": "✓", "running": "▶", "paused": "‖", "failed": "✗", "skipped": "↷", "pending": "·"}
EVENTS_SHOWN = 100            # the newest events on the page; all of them in the JSON
LOG_FILE_LIMIT = 256 * 1024   # a step's job log shown on its page: the last 256 KiB
LIVE_INTERVAL_MS = {"running": 1000, "paused": 2000, "pending": 2000}


def _cache(site: Site) -> JournalCache:
    cache = site.services.get("runs")
    if cache is None:
        cache = site.services["runs"] = JournalCache(lambda: site.state_dir,
                                                     cached=bool(site.options.get("cache", True)))
    return cache


# ---- what the pages show -------------------------------------------------------------------

def pending_gates(journal: Journal, run_id: int, steps: dict[str, StepRow] | None = None,
                  events: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Gates a paused step of this run is waiting on: gate id, question, detail, step, since,
    and the decision already journaled for it (None, or a refusal)."""
    steps = steps if steps is not None else journal.steps(run_id)
    events = events if events is not None else journal.events(run_id)
    approvals = journal.approvals(run_id)
    waiting: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["kind"] == "gate-waiting" and event["step_id"]:
            waiting[event["step_id"]] = event
    out = []
    for sid, row in steps.items():
        if row.status != PAUSED or sid not in waiting:
            continue
        data = waiting[sid]["data"]
        gate = data.get("gate")
        decision = approvals.get(gate)
        out.append({"gate": gate, "question": data.get("question") or "", "detail": data.get("detail") or "",
                    "step_id": sid, "description": row.description, "since": waiting[sid]["ts"],
                    "decision": decision})
    return out


def run_view(journal: Journal, run_id: int) -> dict[str, Any]:
    run = journal.get_run(run_id)
    steps = journal.steps(run_id)
    events = journal.events(run_id)
    approvals = journal.approvals(run_id)
    last_log: dict[str, str] = {}
    for event in events:
        if event["kind"] == "log" and event["step_id"]:
            last_log[event["step_id"]] = str(event["data"].get("message", ""))
    phases: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for row in steps.values():
        counts[row.status] = counts.get(row.status, 0) + 1
        if not phases or phases[-1]["name"] != row.phase:
            phases.append({"name": row.phase, "steps": []})
        phases[-1]["steps"].append({**row.as_dict(), "icon": STATE_ICONS.get(row.status, "?"),
                                    "now": last_log.get(row.step_id) if row.status == RUNNING else None})
    timed = [r for r in steps.values() if r.started_at is not None]
    first = min((r.started_at for r in timed), default=None)          # type: ignore[type-var]
    last = max((r.ended_at or r.started_at for r in timed), default=None)  # type: ignore[type-var]
    gates = pending_gates(journal, run_id, steps, events)
    waits = [{"step_id": s["id"], "what": s["now"], "since": s["started_at"]}
             for p in phases for s in p["steps"] if s["status"] == RUNNING]
    return {"run": run.as_dict(), "version": run.params.get("version", "?"), "phases": phases, "counts": counts,
            "total": len(steps), "gates": gates, "waits": waits,
            "approvals": sorted(approvals.values(), key=lambda a: a["at"]),
            "events": events[-EVENTS_SHOWN:][::-1], "events_total": len(events),
            "wall_s": (last - first) if first is not None and last is not None else None,
            "live": run.status not in (DONE,)}


def runs_view(journal: Journal | None) -> list[dict[str, Any]]:
    if journal is None:
        return []
    out = []
    for run in reversed(journal.runs()):
        steps = journal.steps(run.id)
        done = sum(1 for r in steps.values() if r.status in ("done", "skipped"))
        out.append({**run.as_dict(), "version": run.params.get("version", "?"), "done": done, "total": len(steps),
                    "failed": sum(1 for r in steps.values() if r.status == FAILED),
                    "paused": sum(1 for r in steps.values() if r.status == PAUSED)})
    return out


def step_log(journal: Journal, run_id: int, step_id: str) -> dict[str, Any]:
    run = journal.get_run(run_id)
    steps = journal.steps(run_id)
    if step_id not in steps:
        raise UsageError(f"run {run_id} has no step {step_id}")
    row = steps[step_id]
    events = [e for e in journal.events(run_id) if e["step_id"] == step_id]
    log_file, log_text = None, None
    named = (row.outputs or {}).get("log")
    work_dir = run.params.get("work_dir")
    if isinstance(named, str) and work_dir:
        candidate = Path(named)
        try:   # only a job log inside the run's own work folder is shown
            inside = candidate.resolve().is_relative_to(Path(work_dir).resolve())
        except OSError:
            inside = False
        if inside and candidate.is_file():
            data = candidate.read_bytes()
            log_file = str(candidate)
            log_text = data[-LOG_FILE_LIMIT:].decode("utf-8", errors="replace")
    return {"run": run.as_dict(), "version": run.params.get("version", "?"), "step": row.as_dict(),
            "icon": STATE_ICONS.get(row.status, "?"), "attempts": journal.attempts(run_id, step_id),
            "events": events, "outputs": json.dumps(row.outputs, indent=2, sort_keys=True) if row.outputs else None,
            "log_file": log_file, "log_text": log_text}


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the gate forms; no multipart parser needed)."""
    body = (await request.body())[:16384].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


# ---- routes --------------------------------------------------------------------------------

def routes(site: Site) -> list[BaseRoute]:
    install_filters(site.templates)
    cache = _cache(site)

    def render(template: str, **ctx: Any) -> bytes:
        return site.templates.get_template(template).render(request=None, **ctx).encode()

    def no_journal() -> dict[str, Any]:
        return {"state_dir": str(site.state_dir) if site.state_dir else None}

    def not_found(request: Request, message: str) -> Response:
        return site.render(request, "runs_missing.html", status_code=404, message=message)

    async def runs_page(request: Request) -> Response:
        body, etag, headers = cache.page("runs", lambda j: (render("runs.html", runs=runs_view(j), **no_journal()), {}))
        return cached_response(request, body, etag, headers=headers)

    async def runs_fragment(request: Request) -> Response:
        body, etag, headers = cache.page("runs-fragment", lambda j: (render("runs_table.html", runs=runs_view(j)), {}))
        return cached_response(request, body, etag, headers=headers)

    async def runs_json(request: Request) -> Response:
        journal = cache.journal()
        return JSONResponse([r.as_dict() for r in journal.runs()] if journal else [])

    def run_or_404(request: Request, kind: str, template: str) -> Response:
        run_id = request.path_params["run_id"]
        # (most views have no query string: skip parsing one)
        flash = request.query_params.get("flash") if kind == "page" and request.scope["query_string"] else None

        def draw(journal: Journal | None) -> tuple[bytes, dict[str, str]]:
            if journal is None:
                raise UsageError("no journal")
            view = run_view(journal, run_id)
            interval = LIVE_INTERVAL_MS.get(view["run"]["status"], 5000)
            headers = {} if view["live"] else {"X-Live-Final": "1"}
            return render(template, interval=interval, flash=flash, **view), headers

        try:
            body, etag, headers = cache.page((kind, run_id, flash), draw)
        except UsageError:
            return not_found(request, f"No run {run_id} in {site.state_dir or 'this site'}.")
        return cached_response(request, body, etag, headers=headers)

    async def run_page(request: Request) -> Response:
        return run_or_404(request, "page", "run.html")

    async def run_fragment(request: Request) -> Response:
        return run_or_404(request, "fragment", "run_live.html")

    def read(what: Callable[[Journal], Any]) -> Any:
        """`what(journal)`; UsageError when there is no journal (yet) or it has no such run."""
        journal = cache.journal()
        if journal is None:
            raise UsageError("no journal")
        return what(journal)

    async def run_json(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            view = read(lambda j: {**run_view(j, run_id), "events": j.events(run_id)})
        except UsageError:
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
        return JSONResponse(view)

    async def step_page(request: Request) -> Response:
        run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
        try:
            view = read(lambda j: step_log(j, run_id, step_id))
        except UsageError:
            return not_found(request, f"No step {step_id} in run {run_id}.")
        return site.render(request, "runs_step.html", **view)

    async def report_page(request: Request) -> Response:
        from ..announce import diary

        run_id = request.path_params["run_id"]
        try:
            run = read(lambda j: j.get_run(run_id))
            to_html = getattr(diary, "diary_html", None)     # the diary may offer HTML; Markdown otherwise
            html = read(lambda j: to_html(j, run_id)) if to_html is not None else None
            markdown = None if html is not None else read(lambda j: diary.diary_markdown(j, run_id))
        except UsageError:
            return not_found(request, f"No run {run_id} in {site.state_dir or 'this site'}.")
        return site.render(request, "runs_report.html", run=run.as_dict(), version=run.params.get("version", "?"),
                           diary_html=html, diary_markdown=markdown)

    async def decide(request: Request) -> Response:
        """POST a gate decision: `decision=approve|refuse`, the key as `Authorization: ApiKey
        user:key` or the form field `credentials` (never stored, never echoed)."""
        run_id, gate = request.path_params["run_id"], request.path_params["gate"]
        form = await _form(request)
        wants_json = "application/json" in request.headers.get("accept", "")
        credentials = form.get("credentials")
        user = site.authenticate(request) or (site.check_credentials(str(credentials)) if credentials else None)

        def answer(status: int, message: str) -> Response:
            if wants_json:
                return JSONResponse({"error" if status >= 400 else "ok": message}, status_code=status)
            return site.render(request, "runs_refused.html", status_code=status, message=message, run_id=run_id)

        if user is None:
            why = ("this site has no API keys: start it with RELMAN_SITE_API_KEYS=user:key"
                   if not site.api_keys else "a valid API key (user:key) is needed to answer a gate")
            return answer(401, f"Refused: {why}.")
        decision = {"approve": APPROVED, "refuse": DECLINED}.get(str(form.get("decision", "")))
        if decision is None:
            return answer(400, "The decision must be approve or refuse.")
        try:
            waiting = {g["gate"]: g for g in read(lambda j: pending_gates(j, run_id))}
        except UsageError:
            return answer(404, f"No run {run_id}.")
        found = waiting.get(gate)
        if found is None or (found["decision"] or {}).get("decision") == APPROVED:
            return answer(409, f"Run {run_id} is not waiting on gate {gate!r} (already answered, or never asked).")
        note = str(form.get("note") or "").strip()[:500]
        detail = " — ".join(x for x in (found["detail"], note) if x) or None
        where = request.client.host if request.client else "unknown"
        read(lambda j: j.record_approval(run_id, gate, found["step_id"], decision, user, f"web:{where}", detail))
        if wants_json:
            return JSONResponse({"ok": f"gate {gate} {decision} by {user}", "decision": decision, "who": user})
        return RedirectResponse(f"/runs/{run_id}?flash={decision}-{gate}", status_code=303)

    return [Route("/runs/", runs_page, name="runs"),
            Route("/runs", lambda request: RedirectResponse("/runs/", status_code=308)),
            Route("/runs/fragment", runs_fragment, name="runs-fragment"),
            Route("/runs.json", runs_json, name="runs-json"),
            Route("/runs/{run_id:int}", run_page, name="run"),
            Route("/runs/{run_id:int}.json", run_json, name="run-json"),
            Route("/runs/{run_id:int}/fragment", run_fragment, name="run-fragment"),
            Route("/runs/{run_id:int}/report", report_page, name="run-report"),
            Route("/runs/{run_id:int}/steps/{step_id:path}", step_page, name="run-step"),
            Route("/runs/{run_id:int}/gates/{gate}", decide, methods=["POST"], name="run-gate")]
