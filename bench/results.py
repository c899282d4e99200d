"""Shared helper: each benchmark rewrites only its own section of bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADLINES = Path(__file__).resolve().parent / "headlines.json"
README = Path(__file__).resolve().parent.parent / "README.md"
README_START, README_END = "<!-- holds-up:start -->", "<!-- holds-up:end -->"
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


def write_section(name: str, body: str, headline: str | None = None) -> None:
    """Replace (or append) the section `## name` in RESULTS.md with `body`, stamped with the
    date, the machine and the command that reproduces it. `headline`, one sentence with the
    section's key figure, goes to the README's "How it holds up" (computed, never typed)."""
    if headline is not None:
        headlines = json.loads(HEADLINES.read_text()) if HEADLINES.exists() else {}
        headlines[name] = {"text": headline.strip(), "measured": time.strftime("%Y-%m-%d"),
                           "command": reproduce_command()}
        HEADLINES.write_text(json.dumps(headlines, indent=2, sort_keys=True) + "\n")
        update_readme()
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


def update_readme() -> None:
    """Rewrite the README's block between the holds-up markers from headlines.json."""
    if not README.exists() or not HEADLINES.exists():
        return
    text = README.read_text()
    if README_START not in text or README_END not in text:
        return
    headlines = json.loads(HEADLINES.read_text())
    lines = [f"- {item['text']} ({item['measured']}; `{item['command']}`)" for _, item in sorted(headlines.items())]
    block = "\n".join([README_START, *lines, README_END])
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    README.write_text(text[:start] + block + text[end:])


if __name__ == "__main__":
    update_readme()

