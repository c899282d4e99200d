"""Shared helper: each benchmark rewrites only its own section of bench/RESULTS.md."""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nWritten by `make bench` (each `bench/bench_*.py` rewrites its own section).\n"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section `## name` in RESULTS.md with `body`."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    stamp = f"_measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, Python {platform.python_version()}_\n\n"
    section = f"## {name}\n\n{stamp}{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")
