"""Run every side-by-side benchmark in bench/ (files named bench_*.py), one after another.

Each benchmark measures relman and its peer in the same run and rewrites its own section of
bench/RESULTS.md. A benchmark that fails does not stop the others; the exit code says so.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    only = sys.argv[1:]
    for script in sorted(HERE.glob("bench_*.py")):
        if only and not any(name in script.name for name in only):
            continue
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        print(f"   {script.name}: exit {rc} in {time.perf_counter() - started:.1f} s", flush=True)
        if rc:
            failed.append(script.name)
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
