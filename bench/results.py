"""Shared helper: each benchmark rewrites only its own section of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nWritten by `make bench` (each `bench/bench_*.py` rewrites its own section).\n"


def machine() -> str:
    """What the figures were measured on: architecture, usable cores, load, Python."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.machine()}, {cores} cores (load average {load:.1f} when written), "
            f"Python {platform.python_version()}")


def reproduce_command() -> str:
    """The command that re-runs the calling benchmark, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(Path(__file__).resolve().parent.parent)
    except ValueError:
        pass
    return " ".join([".venv/bin/python", str(script), *sys.argv[1:]])


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section `## name` in RESULTS.md with `body`, stamped with the
    date, the machine and the command that reproduces it."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    stamp = (f"_measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}; "
             f"reproduce with `{reproduce_command()}`_\n\n")
    section = f"## {name}\n\n{stamp}{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")
