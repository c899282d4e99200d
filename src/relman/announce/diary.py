"""The release diary: the story of a run, told from its journal.

`render_diary(journal, run_id, fmt)` is the one entry point (the CLI's `relman report`, the
demo and the web app's run report all call it):

- `md`: a Markdown story — a section per milestone (pre-flight, the release commit and tag,
  builds, publishing, back upstream, announcement…) with its timestamp, what happened, how
  long it took, the approvals, the waits and who was waited on, and links; then readiness,
  artifacts with their digests, incidents, and a table of every step;
- `svg`: a timeline (a Gantt chart: one row and one bar per executed step, coloured by
  phase, overlapping bars for work that ran in parallel, gate approvals marked with a diamond
  and waits for a person hatched);
- `json`: the same facts as data; `html`: the story and the timeline on one page
  (`diary_html` is the same as an embeddable fragment, for the web app's run report).

Times come only from the journal (attempts, approvals and events), so the diary of a
resumed run tells the whole run, interruptions included.
"""

from __future__ import annotations

import html as html_lib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..engine.journal import Journal
from ..errors import UsageError

OUTCOME_ICONS = {"done": "✅", "failed": "💥", "paused": "⏸", "skipped": "⏭", "pending": "·", "running": "⏳"}
FORMATS = ("md", "json", "html", "svg")

# Milestones of a release, by step phase (unknown phases get their own section, titled by name).
PHASE_TITLES = {
    "preflight": "Pre-flight checks",
    "source": "The release commit and the tag",
    "build": "Builds",
    "publish": "Publishing",
    "post": "Back upstream",
    "schedule": "The schedule",
    "announce": "The announcement",
    "live": "Live posts",
}
PHASE_COLOURS = {"preflight": "#6c8ebf", "source": "#82b366", "build": "#d79b00", "publish": "#9673a6",
                 "post": "#b85450", "schedule": "#10739e", "announce": "#d6b656", "live": "#999999"}
STATUS_STROKES = {"failed": "#c00000", "paused": "#7f7f00", "running": "#0070c0", "pending": "#7f7f7f"}


def _clock(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _urls(value: Any, found: list[str], depth: int = 0) -> None:
    if depth > 4 or len(found) >= 8:
        return
    if isinstance(value, str):
        if value.startswith(("http://", "https://")) and value not in found:
            found.append(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _urls(item, found, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value[:50]:
            _urls(item, found, depth + 1)


# ---- the facts ---------------------------------------------------------------------------

def _spans(journal: Journal, run_id: int, steps: list[dict[str, Any]], end_of_run: float) -> list[dict[str, Any]]:
    """One bar per executed step (a step with at least one attempt): first start → last end."""
    attempts: dict[str, list[dict[str, Any]]] = {}
    for a in journal.attempts(run_id):
        attempts.setdefault(a["step_id"], []).append(a)
    bars = []
    for s in steps:
        tries = attempts.get(s["id"])
        if not tries:
            continue
        start = min(a["started_at"] for a in tries)
        ends = [a["ended_at"] for a in tries if a["ended_at"] is not None]
        open_attempt = any(a["ended_at"] is None for a in tries)
        end = end_of_run if open_attempt or not ends else max(ends)
        bars.append({"step": s["id"], "phase": s["phase"], "status": s["status"], "start": start,
                     "end": max(end, start), "attempts": len(tries),
                     "outcomes": [a["outcome"] for a in tries]})
    bars.sort(key=lambda b: (b["start"], b["step"]))
    lane_ends: list[float] = []
    for bar in bars:                                  # pack into parallel lanes (first free lane)
        for index, lane_end in enumerate(lane_ends):
            if lane_end <= bar["start"]:
                bar["lane"] = index
                lane_ends[index] = bar["end"]
                break
        else:
            bar["lane"] = len(lane_ends)
            lane_ends.append(bar["end"])
    return bars


def _waits(events: list[dict[str, Any]], approvals: Mapping[str, Mapping[str, Any]],
           end_of_run: float) -> list[dict[str, Any]]:
    """Every time the run stood at a gate: from the question to the answer (or the end of the run)."""
    waits = []
    for e in events:
        if e["kind"] != "gate-waiting":
            continue
        gate = e["data"].get("gate")
        answer = approvals.get(gate)
        answered = answer is not None and answer["at"] >= e["ts"]
        waits.append({"gate": gate, "step": e["step_id"], "question": e["data"].get("question"), "from": e["ts"],
                      "to": answer["at"] if answered and answer else end_of_run,
                      "answered_by": answer["who"] if answered and answer else None,
                      "how": answer["how"] if answered and answer else None,
                      "decision": answer["decision"] if answered and answer else "unanswered"})
    return waits


def diary_data(journal: Journal, run_id: int) -> dict[str, Any]:
    run = journal.get_run(run_id)
    steps = [row.as_dict() for row in journal.steps(run_id).values()]
    events = journal.events(run_id)
    approvals = journal.approvals(run_id)
    end_of_run = run.finished_at or max([run.updated_at] + [e["ts"] for e in events])
    bars = _spans(journal, run_id, steps, end_of_run)
    waits = _waits(events, approvals, end_of_run)
    by_step = {b["step"]: b for b in bars}
    milestones: dict[str, dict[str, Any]] = {}
    for s in steps:
        bar = by_step.get(s["id"])
        phase = s["phase"] or "other"
        m = milestones.setdefault(phase, {"phase": phase, "title": PHASE_TITLES.get(phase, phase.title()),
                                          "steps": [], "start": None, "end": None, "approvals": [], "waits": [],
                                          "links": []})
        m["steps"].append(s["id"])
        if bar is not None:
            m["start"] = bar["start"] if m["start"] is None else min(m["start"], bar["start"])
            m["end"] = bar["end"] if m["end"] is None else max(m["end"], bar["end"])
        _urls(s["outputs"] or {}, m["links"])
    phase_of = {s["id"]: s["phase"] or "other" for s in steps}
    for a in approvals.values():
        milestones.get(phase_of.get(a["step_id"] or "", ""), {}).setdefault("approvals", []).append(a)
    for w in waits:
        milestones.get(phase_of.get(w["step"] or "", ""), {}).setdefault("waits", []).append(w)
    ordered = sorted(milestones.values(), key=lambda m: (m["start"] is None, m["start"] or 0.0))
    for m in ordered:
        m["duration_s"] = (m["end"] - m["start"]) if m["start"] is not None and m["end"] is not None else None
    return {"run": run.as_dict(), "steps": steps, "approvals": list(approvals.values()),
            "attempts": journal.attempts(run_id), "chain_broken_at": journal.verify_chain(run_id),
            "milestones": ordered, "timeline": bars, "waits": waits,
            "started_at": min((b["start"] for b in bars), default=run.created_at),
            "ended_at": max((b["end"] for b in bars), default=end_of_run)}


# ---- Markdown ----------------------------------------------------------------------------

def _step_line(s: Mapping[str, Any], bar: Mapping[str, Any] | None) -> str:
    outputs = s.get("outputs") or {}
    # A check that did not apply says so, and why (e.g. the magic number before 3.14), instead of ✅.
    not_applicable = s["status"] == "done" and outputs.get("status") == "not-applicable"
    icon = "➖" if not_applicable else OUTCOME_ICONS.get(s["status"], "?")
    described = outputs.get("summary") if not_applicable and outputs.get("summary") else s["description"]
    if bar is None:
        return f"- {icon} `{s['id']}` — {described} ({s['status']})"
    tries = f", {bar['attempts']} attempts" if bar["attempts"] > 1 else ""
    text = f"- {icon} {_clock(bar['start'])} `{s['id']}` — {described} ({_took(bar['end'] - bar['start'])}{tries})"
    if "already-done" in bar["outcomes"]:
        text += "; found already done"
    if s["error"]:
        text += f"\n  - error: {s['error'].splitlines()[0][:160]}"
    return text


def diary_markdown(journal: Journal, run_id: int) -> str:
    data = diary_data(journal, run_id)
    run = data["run"]
    version = run["params"].get("version", "?")
    lines = [f"# Release diary: {version}", ""]
    executed = data["timeline"]
    intro = (f"Run {run['id']} ({run['workflow']}) of {run['key'].split(':')[0]}, started {_stamp(run['created_at'])}"
             f", status **{run['status']}**.")
    lines += [intro, ""]
    if executed:
        lanes = 1 + max(b["lane"] for b in executed)
        lines += [f"{len(executed)} steps ran between {_clock(data['started_at'])} and {_clock(data['ended_at'])} UTC "
                  f"(wall time {_took(data['ended_at'] - data['started_at'])}; up to {lanes} in parallel).", ""]
    by_bar = {b["step"]: b for b in executed}
    by_id = {s["id"]: s for s in data["steps"]}
    for m in data["milestones"]:
        when = f" — {_clock(m['start'])} UTC, {_took(m['duration_s'])}" if m["start"] is not None else " — not run"
        lines += [f"## {m['title']}{when}", ""]
        for sid in sorted(m["steps"], key=lambda i: (by_bar[i]["start"] if i in by_bar else float("inf"), i)):
            lines.append(_step_line(by_id[sid], by_bar.get(sid)))
        for a in m["approvals"]:
            lines.append(f"- gate `{a['gate']}` {a['decision']} by {a['who']} ({a['how']}) at {_clock(a['at'])} UTC"
                         + (f": {a['note']}" if a["note"] else ""))
        for w in m["waits"]:
            who = w["answered_by"] or "a release manager (no answer yet)"
            lines.append(f"- waited {_took(w['to'] - w['from'])} at gate `{w['gate']}` for {who}"
                         + (f" — “{w['question']}”" if w["question"] else ""))
        for link in m["links"]:
            lines.append(f"- <{link}>")
        lines.append("")
    if data["approvals"]:
        lines += ["## Gates", ""]
        for a in data["approvals"]:
            lines.append(f"- `{a['gate']}` {a['decision']} by {a['who']} ({a['how']}) at {_clock(a['at'])} UTC"
                         + (f": {a['note']}" if a["note"] else ""))
        lines.append("")
    verdict = ((by_id.get("preflight.readiness") or {}).get("outputs") or {}).get("verdict")
    if verdict:
        featured = verdict.get("featured_problem") or {}
        lines += ["## Readiness", "",
                  f"Branch {verdict['branch']}: **{verdict['verdict']}**"
                  + (f" — {featured.get('description')}" if featured else ""), ""]
    noted = [(s["id"], n) for s in data["steps"] for n in ((s.get("outputs") or {}).get("notes") or [])
             if n.get("kind") != "info"]
    if noted:
        lines += ["## Notes from the edits", ""]
        lines += [f"- `{sid}`: `{n['path']}`: {n['message']} ({n['kind']})" for sid, n in noted]
        lines.append("")
    built = (by_id.get("build.artifacts") or {}).get("outputs") or {}
    if built.get("files"):
        lines += ["## Artifacts", "", "| file | size | sha256 |", "|---|---|---|"]
        for f in built["files"]:
            lines.append(f"| `{f['name']}` | {f['size']:,} | `{f['sha256'][:16]}…` |")
        lines.append("")
        lines.append("Signed: " + ("no (unsigned rehearsal)" if built.get("unsigned") else "yes") + ".")
        lines.append("")
    builders = _worker_rows(by_id)
    if builders:
        lines += ["## Who built what", "",
                  "| step | job | worker | where | Python | relman | build |", "|---|---|---|---|---|---|---|"]
        lines += builders
        lines.append("")
    retried = [a for a in data["attempts"] if a["outcome"] in ("retry", "failed", "timeout", "interrupted")]
    if retried:
        lines += ["## Incidents", ""]
        for a in retried:
            lines.append(f"- {_clock(a['started_at'])} `{a['step_id']}` attempt {a['number']}: {a['outcome']}"
                         + (f" — {a['error'].splitlines()[0][:160]}" if a["error"] else ""))
        lines.append("")
    lines += ["## Every step", "", "| | step | started (UTC) | took | attempts | notes |", "|---|---|---|---|---|---|"]
    for s in data["steps"]:
        bar = by_bar.get(s["id"])
        took = _took(bar["end"] - bar["start"]) if bar else "—"
        note = (s["error"] or "").splitlines()[0][:120] if s["error"] else s["description"]
        lines.append(f"| {OUTCOME_ICONS.get(s['status'], '?')} | `{s['id']}` | {_clock(bar['start'] if bar else None)} "
                     f"| {took} | {s['attempts']} | {note.replace('|', '/')} |")
    chain = "intact" if not data["chain_broken_at"] else f"BROKEN at event(s) {data['chain_broken_at']}"
    lines += ["", f"Journal event chain: {chain}.", ""]
    return "\n".join(lines)


def _worker_rows(by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One table row per build job that ran on a Buildbot worker: the `workers` records (and the
    reproducibility gate's `second` build) that the build steps keep in their outputs."""
    rows = []
    for step_id in sorted(by_id):
        if not step_id.startswith("build."):
            continue
        outputs = by_id[step_id].get("outputs") or {}
        records = [w for w in outputs.get("workers") or [] if isinstance(w, dict)]
        second = outputs.get("second")
        if isinstance(second, dict) and second.get("worker"):
            records.append(second)
        for w in records:
            url = w.get("build_url")
            rows.append(f"| `{step_id}` | {w.get('job') or ''} | {w.get('worker') or ''} "
                        f"| {w.get('user') or ''}@{w.get('host') or ''}, {w.get('platform') or ''}"
                        f"{' (same user as the release manager: NOT isolated)' if w.get('same_user') else ''} "
                        f"| {w.get('python') or ''} | {w.get('relman') or ''} | {f'[log]({url})' if url else ''} |")
    return rows


# ---- SVG ---------------------------------------------------------------------------------

def _ticks(span: float) -> Iterable[float]:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400):
        if span / step <= 10:
            break
    t = 0.0
    while t <= span + 1e-9:
        yield t
        t += step


def diary_svg(journal: Journal, run_id: int, *, data: Mapping[str, Any] | None = None) -> str:
    data = data or diary_data(journal, run_id)
    bars = data["timeline"]
    esc = html_lib.escape
    label_w, chart_w, row_h, top, pad = 250, 680, 20, 46, 10
    height = top + row_h * max(1, len(bars)) + 30
    width = label_w + chart_w + pad * 2
    t0 = data["started_at"]
    span = max(data["ended_at"] - t0, 1e-3)

    def x(ts: float) -> float:
        return label_w + chart_w * (ts - t0) / span

    version = data["run"]["params"].get("version", "?")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img" '
           f'aria-label="Timeline of release {esc(str(version))}">',
           '<defs><pattern id="wait-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="3" height="6" fill="#f4b183"/></pattern></defs>',
           f'<title>Release {esc(str(version))}: run {data["run"]["id"]} timeline</title>',
           f'<text x="{pad}" y="16" font-size="13" font-weight="bold">Release {esc(str(version))} — run '
           f'{data["run"]["id"]} ({esc(data["run"]["status"])}), {esc(_took(span))} from {_clock(t0)} UTC</text>']
    for tick in _ticks(span):
        tx = x(t0 + tick)
        out.append(f'<line class="tick" x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 24}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{top - 10}" text-anchor="middle" fill="#555">+{esc(_took(tick))}</text>')
    row_of: dict[str, int] = {}
    for index, bar in enumerate(bars):
        y = top + index * row_h
        row_of[bar["step"]] = y
        colour = PHASE_COLOURS.get(bar["phase"], "#7f7f7f")
        stroke = STATUS_STROKES.get(bar["status"], colour)
        bx, bw = x(bar["start"]), max(x(bar["end"]) - x(bar["start"]), 1.5)
        tries = f", {bar['attempts']} attempts" if bar["attempts"] > 1 else ""
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{esc(bar["step"])}</text>')
        out.append(f'<rect class="bar phase-{esc(bar["phase"] or "other")} status-{esc(bar["status"])}" '
                   f'data-step="{esc(bar["step"])}" data-lane="{bar["lane"]}" x="{bx:.2f}" y="{y + 3}" '
                   f'width="{bw:.2f}" height="{row_h - 6}" rx="2" fill="{colour}" stroke="{stroke}">'
                   f'<title>{esc(bar["step"])}: {esc(bar["status"])}, {esc(_took(bar["end"] - bar["start"]))}, '
                   f'from {_clock(bar["start"])} UTC, lane {bar["lane"] + 1}{tries}</title></rect>')
    for w in data["waits"]:
        wy = row_of.get(w["step"])
        if wy is None:
            continue
        wx, ww = x(w["from"]), max(x(w["to"]) - x(w["from"]), 1.5)
        who = w["answered_by"] or "nobody yet"
        out.append(f'<rect class="wait" data-gate="{esc(w["gate"] or "")}" x="{wx:.2f}" y="{wy + 3}" width="{ww:.2f}" '
                   f'height="{row_h - 6}" fill="url(#wait-hatch)" stroke="#c55a11">'
                   f'<title>waited {esc(_took(w["to"] - w["from"]))} at gate {esc(w["gate"] or "")} for '
                   f'{esc(who)}</title></rect>')
    for a in data["approvals"]:
        ay = row_of.get(a["step_id"])
        if ay is None:
            continue
        gx, gy = x(min(max(a["at"], t0), t0 + span)), ay + row_h / 2
        out.append(f'<path class="gate" data-gate="{esc(a["gate"])}" d="M{gx:.2f},{gy - 6:.2f} L{gx + 5:.2f},{gy:.2f} '
                   f'L{gx:.2f},{gy + 6:.2f} L{gx - 5:.2f},{gy:.2f} Z" fill="#ffd966" stroke="#7f6000">'
                   f'<title>gate {esc(a["gate"])} {esc(a["decision"])} by {esc(a["who"])} ({esc(a["how"])}) at '
                   f'{_clock(a["at"])} UTC</title></path>')
    legend_y = height - 8
    lx = float(pad)
    for phase in dict.fromkeys(b["phase"] for b in bars):
        out.append(f'<rect x="{lx:.0f}" y="{legend_y - 9}" width="10" height="10" '
                   f'fill="{PHASE_COLOURS.get(phase, "#7f7f7f")}"/>')
        title = PHASE_TITLES.get(phase, phase or "other")
        out.append(f'<text x="{lx + 14:.0f}" y="{legend_y}">{esc(title)}</text>')
        lx += 24 + 6.5 * len(title)
    out.append(f'<text x="{lx:.0f}" y="{legend_y}" fill="#7f6000">◆ gate approved</text>')
    out.append(f'<text x="{lx + 110:.0f}" y="{legend_y}" fill="#c55a11">▨ waiting for a person</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- JSON and HTML -----------------------------------------------------------------------

def diary_json(journal: Journal, run_id: int) -> str:
    return json.dumps(diary_data(journal, run_id), indent=2, default=str, ensure_ascii=False)


def diary_html(journal: Journal, run_id: int) -> str:
    """An embeddable HTML fragment: the timeline and the story (the web app puts it in its page)."""
    from markdown_it import MarkdownIt

    data = diary_data(journal, run_id)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(diary_markdown(journal, run_id))
    return (f'<article class="diary">\n<figure class="timeline">{diary_svg(journal, run_id, data=data)}</figure>\n'
            f"{body}</article>\n")


def diary_page(journal: Journal, run_id: int) -> str:
    """A standalone HTML page of the diary (`relman report --format html`)."""
    version = html_lib.escape(str(journal.get_run(run_id).params.get("version", "?")))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Release diary: {version}</title>"
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
            "figure{overflow-x:auto;margin:1em 0}</style></head><body>\n"
            f"{diary_html(journal, run_id)}</body></html>\n")


def render_diary(journal: Journal, run_id: int, fmt: str = "md") -> str:
    """The diary of a run in one format: "md", "json", "html" or "svg" (the web app calls this)."""
    if fmt == "md":
        return diary_markdown(journal, run_id)
    if fmt == "json":
        return diary_json(journal, run_id)
    if fmt == "svg":
        return diary_svg(journal, run_id)
    if fmt == "html":
        return diary_page(journal, run_id)
    raise UsageError(f"unknown diary format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
