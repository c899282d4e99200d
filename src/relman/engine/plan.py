"""Build and check the DAG: unknown dependencies, cycles, conditions, fingerprints.

`Plan` is what both `relman plan` (dry run) and the runner use, so the dry run shows exactly
what a run would do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from ..errors import UsageError
from .step import Step


def fingerprint(values: Mapping[str, Any]) -> str:
    data = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def diff_values(old: Any, new: Any, prefix: str = "") -> list[str]:
    """What changed between two JSON values, key by key: `a.b: 1 -> 2`."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                out += diff_values(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [f"{prefix.rstrip('.') + ': ' if prefix else ''}{old!r} -> {new!r}"]


@dataclass
class Plan:
    name: str
    steps: dict[str, Step]            # in topological order
    params: dict[str, Any]
    skipped: set[str]                 # condition false for this run
    ancestors: dict[str, frozenset[str]]  # every step each step transitively depends on

    @classmethod
    def build(cls, name: str, steps: Sequence[Step], params: Mapping[str, Any]) -> Plan:
        by_id: dict[str, Step] = {}
        for step in steps:
            if step.id in by_id:
                raise UsageError(f"workflow {name!r} defines step {step.id!r} twice")
            by_id[step.id] = step
        for step in steps:
            missing = [d for d in step.deps if d not in by_id]
            if missing:
                raise UsageError(f"step {step.id!r} depends on unknown step(s) {', '.join(missing)}")
        try:
            order = list(TopologicalSorter({s.id: s.deps for s in steps}).static_order())
        except CycleError as error:
            raise UsageError(f"workflow {name!r} has a dependency cycle: {' -> '.join(error.args[1])}") from None
        params = dict(params)
        skipped = {s.id for s in steps if not s.applies(params)}
        ancestors: dict[str, frozenset[str]] = {}
        for sid in order:
            # A step skipped in this run is finished from the start: it carries no dependency of
            # its own, so a failed or paused step before it neither blocks nor is redone with
            # what follows it (a local build does not wait on the fork push that a Buildbot
            # build's skipped-here tag check waits for).
            deps = () if sid in skipped else by_id[sid].deps
            ancestors[sid] = frozenset(deps).union(*(ancestors[d] for d in deps))
        return cls(name, {sid: by_id[sid] for sid in order}, params, skipped, ancestors)

    def inputs_of(self, step_id: str) -> dict[str, Any]:
        return self.steps[step_id].fingerprint_inputs(self.params)

    def descendants(self, step_id: str) -> list[str]:
        """Every step that depends on `step_id`, directly or not, in plan order."""
        return [sid for sid in self.steps if step_id in self.ancestors[sid]]

    def drift_choices(self, drifted: Sequence[str], rows: Mapping[str, Any]) -> dict[str, list[str]]:
        """What accepting changed inputs does, by each step's `on_drift`: "keep" re-stamps it; "rerun"
        runs it again (its action, without probing) and makes the finished steps after it pending.
        Once an irreversible step has finished, every drifted step is kept: what is published stays."""
        done = {sid for sid, row in rows.items() if row.status == "done"}
        published = any(self.steps[sid].irreversible for sid in done if sid in self.steps)
        keep: list[str] = []
        rerun: list[str] = []
        for sid in drifted:
            (rerun if self.steps[sid].on_drift == "rerun" and not published else keep).append(sid)
        order = list(self.steps)
        reset = sorted({s for r in rerun for s in [r, *self.descendants(r)] if s in done}, key=order.index)
        return {"keep": keep, "rerun": rerun, "reset": reset}

    def redo_set(self, step_id: str) -> list[str]:
        """`--redo STEP`: the step and everything downstream of it, in plan order."""
        if step_id not in self.steps:
            raise UsageError(f"no step {step_id!r} in the {self.name} workflow",
                             hint="`relman plan VERSION` lists the step ids")
        return [step_id, *self.descendants(step_id)]

    def critical_path(self, durations: Mapping[str, float]) -> tuple[float, list[str]]:
        """The longest chain of dependent steps, given how long each one took."""
        best: dict[str, tuple[float, list[str]]] = {}
        for sid, step in self.steps.items():
            before = max((best[d] for d in step.deps), default=(0.0, []), key=lambda item: item[0])
            best[sid] = (before[0] + durations.get(sid, 0.0), before[1] + [sid])
        return max(best.values(), default=(0.0, []), key=lambda item: item[0])

    def describe(self) -> list[dict[str, Any]]:
        rows = []
        for sid, step in self.steps.items():
            rows.append({
                "id": sid,
                "description": step.description,
                "phase": step.phase,
                "deps": list(step.deps),
                "applies": sid not in self.skipped,
                "condition": step.condition_text or None,
                "effects": [{"kind": e.kind, "what": e.what} for e in step.effects],
                "gate": {"id": step.gate.id, "question": step.gate.question} if step.gate else None,
                "irreversible": step.irreversible,
                "timeout_s": step.timeout_s,
                "retries": step.retry.attempts if step.retry else 1,
                "probe": step.probe is not None,
                "on_drift": step.on_drift,
            })
        return rows
