"""Demo wall time against its critical path (target: within 15 %).

Runs `relman demo` in a fresh folder, then reads the journal: the run's wall time (first
step started → last step ended) against the longest chain of dependent step durations. The
gap is the engine's scheduling and journaling overhead.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402

from relman.demo.rehearsal import run_demo  # noqa: E402
from relman.engine.journal import Journal  # noqa: E402
from relman.engine.runner import Observer  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        outcome = run_demo(Path(tmp) / "demo", observer=Observer())
        total = time.perf_counter() - started
        journal = Journal(outcome.session.db_path)
        steps = journal.steps(outcome.result.run_id)
        timed = [s for s in steps.values() if s.started_at and s.ended_at and s.status == "done"]
        wall = max(s.ended_at for s in timed) - min(s.started_at for s in timed)
        plan = outcome.session.plan()
        critical, path = plan.critical_path({s.step_id: s.duration_s or 0.0 for s in timed})
        ratio = wall / critical if critical else float("inf")
    print(f"demo total {total:.2f} s; run wall {wall:.3f} s; critical path {critical:.3f} s; ratio {ratio:.3f}")
    slowest = sorted(timed, key=lambda s: -(s.duration_s or 0))[:5]
    rows = "\n".join(f"| `{s.step_id}` | {s.duration_s:.3f} s |" for s in slowest)
    write_section("demo wall time vs critical path", headline=(
        f"**demo**: a whole rehearsal in {total:.1f} s; its run's wall time is {ratio:.3f}× its critical path "
        f"(target ≤ 1.15)"), body=f"""
| measurement | value |
|---|---|
| `relman demo` end to end (sample project creation included) | {total:.2f} s |
| run wall time (first step start → last step end) | {wall:.3f} s |
| critical path (longest chain of step durations) | {critical:.3f} s |
| wall / critical path | {ratio:.3f} (target ≤ 1.15: {"met" if ratio <= 1.15 else "MISSED"}) |

Critical path: {" → ".join(f"`{p}`" for p in path)}

Slowest steps:

| step | took |
|---|---|
{rows}
""")


if __name__ == "__main__":
    main()
