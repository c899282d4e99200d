"""The release diary: a Markdown timeline of a run, from its journal.

Each step with when it started, how long it took, how it ended; gates with who approved
them and how; failures with their message. Written for people reading it after the fact.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..engine.journal import Journal

OUTCOME_ICONS = {"done": "✅", "failed": "💥", "paused": "⏸", "skipped": "⏭", "pending": "·", "running": "⏳"}


def _clock(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")


def diary_data(journal: Journal, run_id: int) -> dict[str, Any]:
    run = journal.get_run(run_id)
    steps = [row.as_dict() for row in journal.steps(run_id).values()]
    return {"run": run.as_dict(), "steps": steps, "approvals": list(journal.approvals(run_id).values()),
            "attempts": journal.attempts(run_id), "chain_broken_at": journal.verify_chain(run_id)}


def diary_markdown(journal: Journal, run_id: int) -> str:
    data = diary_data(journal, run_id)
    run = data["run"]
    version = run["params"].get("version", "?")
    started = datetime.fromtimestamp(run["created_at"], timezone.utc)
    lines = [f"# Release diary: {version}", "",
             f"Run {run['id']} ({run['workflow']}), started {started:%Y-%m-%d %H:%M:%S} UTC, status **{run['status']}**.", ""]
    timed = [s for s in data["steps"] if s["started_at"] is not None]
    if timed:
        first = min(s["started_at"] for s in timed)
        last = max(s["ended_at"] or s["started_at"] for s in timed)
        lines += [f"Wall time of the steps: {last - first:.1f} s.", ""]
    lines += ["| | step | started (UTC) | took | attempts | notes |", "|---|---|---|---|---|---|"]
    for s in data["steps"]:
        took = f"{s['duration_s']:.2f} s" if s["duration_s"] is not None else "—"
        summary = (s.get("outputs") or {}).get("summary") if s["status"] == "done" else None
        note = (s["error"] or "").splitlines()[0][:120] if s["error"] else (summary or s["description"])
        not_applicable = (s.get("outputs") or {}).get("status") == "not-applicable"
        icon = "➖" if not_applicable else OUTCOME_ICONS.get(s["status"], "?")
        lines.append(f"| {icon} | `{s['id']}` | {_clock(s['started_at'])} | {took} | "
                     f"{s['attempts']} | {note.replace('|', '/')} |")
    if data["approvals"]:
        lines += ["", "## Gates", ""]
        for a in data["approvals"]:
            lines.append(f"- `{a['gate']}` {a['decision']} by {a['who']} ({a['how']}) at {_clock(a['at'])} UTC"
                         + (f": {a['note']}" if a["note"] else ""))
    by_id = {s["id"]: s for s in data["steps"]}
    verdict = ((by_id.get("preflight.readiness") or {}).get("outputs") or {}).get("verdict")
    if verdict:
        featured = verdict.get("featured_problem") or {}
        lines += ["", "## Readiness", "",
                  f"Branch {verdict['branch']}: **{verdict['verdict']}**"
                  + (f" — {featured.get('description')}" if featured else "")]
    noted = [(s["id"], n) for s in data["steps"] for n in ((s.get("outputs") or {}).get("notes") or [])
             if n.get("kind") != "info"]
    if noted:
        lines += ["", "## Notes from the edits", ""]
        lines += [f"- `{sid}`: `{n['path']}`: {n['message']} ({n['kind']})" for sid, n in noted]
    built = (by_id.get("build.artifacts") or {}).get("outputs") or {}
    if built.get("files"):
        lines += ["", "## Artifacts", "", "| file | size | sha256 |", "|---|---|---|"]
        for f in built["files"]:
            lines.append(f"| `{f['name']}` | {f['size']:,} | `{f['sha256'][:16]}…` |")
        lines.append("")
        lines.append("Signed: " + ("no (unsigned rehearsal)" if built.get("unsigned") else "yes") + ".")
    retried = [a for a in data["attempts"] if a["outcome"] in ("retry", "failed", "timeout", "interrupted")]
    if retried:
        lines += ["", "## Incidents", ""]
        for a in retried:
            lines.append(f"- `{a['step_id']}` attempt {a['number']}: {a['outcome']}"
                         + (f" — {a['error'].splitlines()[0][:160]}" if a["error"] else ""))
    chain = "intact" if not data["chain_broken_at"] else f"BROKEN at event(s) {data['chain_broken_at']}"
    lines += ["", f"Journal event chain: {chain}.", ""]
    return "\n".join(lines)


def diary_json(journal: Journal, run_id: int) -> str:
    return json.dumps(diary_data(journal, run_id), indent=2, default=str)
