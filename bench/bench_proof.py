"""Proof figures: how many bad inputs, injected faults and kill points relman survives.

Runs the proof suites with pytest (JUnit XML), counts each suite's cases and outcomes, and
writes them to bench/RESULTS.md, so "it keeps working and loses nothing" is a figure anyone can
re-run, not a sentence:

  * the bad-input corpus (tests/corpus): every case an exit code or HTTP status and a message,
    never a traceback or a 500;
  * fault injection (tests/faults): HTTP 5xx, resets, timeouts, lost answers, a full disk;
  * crash at every step (tests/release/test_crash_converges.py): SIGKILL at each step boundary
    and inside long steps, then resume (kill points counted from build/test-artifacts/crash-*.json);
  * the security checks (tests/security, when present).

Run from the repository root: .venv/bin/python bench/bench_proof.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

SUITES = [
    ("bad-input corpus", ["tests/corpus"]),
    ("fault injection", ["tests/faults", "tests/publish/test_sftp.py"]),
    ("crash at every step", ["tests/release/test_crash_converges.py"]),
    ("security checks", ["tests/security"]),
]


def run_suite(paths: list[str]) -> dict[str, int | float] | None:
    present = [p for p in paths if (ROOT / p).exists()]
    if not present:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *present], cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - started
        if not report.exists():
            return None
        suites = ET.parse(report).getroot()
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for suite in suites.iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
        return {**counts, "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
                "wall": wall}


def main() -> int:
    # Kill-point counts are written by the crash suite in this run; older ones must not count.
    for stale in (ROOT / "build" / "test-artifacts").glob("crash-*.json"):
        stale.unlink()
    rows = []
    measured = []
    failed = False
    for name, paths in SUITES:
        result = run_suite(paths)
        measured.append((name, result))
        if result is None:
            rows.append(f"| {name} | — | not present in this tree | | `{' '.join(paths)}` |")
            continue
        bad = result["failures"] + result["errors"]
        failed |= bool(bad)
        extra = (f", {bad} failed" if bad else "") + (f", {result['skipped']} skipped" if result["skipped"] else "")
        verdict = "all held" if not bad else "FAILURES"
        rows.append(f"| {name} | **{result['passed']} of {result['tests']}** passed{extra} | {result['wall']:.0f} s "
                    f"| {verdict} | `{' '.join(paths)}` |")
        print(rows[-1], flush=True)
    held = [(name, r) for name, r in measured if r is not None]
    kill_points = [json.loads(p.read_text()) for p in sorted((ROOT / "build" / "test-artifacts").glob("crash-*.json"))]
    if kill_points:
        survived = sum(k["survived"] for k in kill_points)
        total = sum(k["kill_points"] for k in kill_points)
        rows.append(f"| kill points (SIGKILL, then resume) | **{survived} of {total}** survived | | "
                    f"{'all held' if survived == total else 'FAILURES'} | `tests/release/test_crash_converges.py` |")
        held.append(("kill points", {"passed": survived, "tests": total}))
    write_section("proof: bad input, faults, crashes", headline="**proof**: " + "; ".join(
        f"{name} {r['passed']} of {r['tests']}" for name, r in held), body=f"""
Each row is one suite run with pytest in this run; a case is one bad input, one injected fault
or one kill point, and it passes only when relman answered with the documented exit code or
status and message (no traceback, no 500), retried to success or stopped cleanly, and a re-run
completed with nothing lost or done twice.

| suite | cases | wall | verdict | tests |
|---|---|---|---|---|
{chr(10).join(rows)}
""")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
