"""Benchmark: replacing `.. versionadded:: next` across a CPython-sized Doc/ tree.

relman's `replace_doc_next` against a model of the peer's algorithm (python/release-tools'
`update_version_next.py` as described in shared/notes/cpython-release-tools.md §5.4: glob every
`**/*.rst` from the repo root, read each file as text, `fullmatch` a regex on every line,
rewrite the file when something changed). The peer itself is not on PyPI, so the model is a
re-statement of that description, not its code; the figures compare the two approaches on
the same generated trees in the same run.

Run from the repo root: `.venv/bin/python bench/bench_bump.py`.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_section  # noqa: E402
from relman.source import replace_doc_next  # noqa: E402

PEER_RE = re.compile(
    r"(?P<before>\s*\.\.\s+(?:versionadded|versionchanged|versionremoved|deprecated|deprecated-removed)\s*::\s*)"
    r"next(?P<after>.*)", re.DOTALL)


def peer_model(root: Path, version: str) -> list[Path]:
    changed = []
    for path in root.glob("**/*.rst"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        out = []
        for line in lines:
            match = PEER_RE.fullmatch(line)
            out.append(match["before"] + version + match["after"] if match else line)
        if out != lines:
            path.write_text("".join(out), encoding="utf-8")
            changed.append(path)
    return changed


PARAGRAPH = ("Lorem ipsum dolor sit amet, :func:`spam` consectetur adipiscing elit, sed do eiusmod\n"
             "tempor incididunt ut labore et dolore magna aliqua.  See :ref:`eggs` and ``ham``.\n\n")


def make_tree(root: Path, files: int, file_kb: int, with_next: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    body = PARAGRAPH * max(1, file_kb * 1024 // len(PARAGRAPH))
    marked = set(rng.sample(range(files), with_next))
    for i in range(files):
        path = root / "Doc" / f"section{i % 20}" / f"page{i}.rst"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"Page {i}\n=======\n\n.. function:: f{i}()\n\n   .. versionadded:: 3.1{i % 10}\n\n" + body
        if i in marked:
            text += "   .. versionadded:: next\n\n   .. deprecated-removed:: next 3.20\n"
        path.write_text(text, encoding="utf-8")


def timed(func, template: Path, work: Path, repeats: int) -> tuple[float, int]:
    times, changed = [], 0
    for _ in range(repeats):
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(template, work)
        start = time.perf_counter()
        changed = len(func(work, "3.15"))
        times.append(time.perf_counter() - start)
    return statistics.median(times), changed


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, files, kb, marked, repeats in [
            ("CPython-sized Doc/ (600 files, 20 KB each, 60 with `next`)", 600, 20, 60, 5),
            ("10x (6,000 files, 20 KB each, 200 with `next`)", 6000, 20, 200, 3),
        ]:
            template = Path(tmp) / f"tree-{files}"
            make_tree(template, files, kb, marked)
            ours, ours_changed = timed(replace_doc_next, template, Path(tmp) / "work", repeats)
            peer, peer_changed = timed(peer_model, template, Path(tmp) / "work", repeats)
            assert ours_changed == peer_changed == marked, (ours_changed, peer_changed, marked)
            rows.append(f"| {label} | {ours * 1000:.0f} ms | {peer * 1000:.0f} ms | {peer / ours:.1f}x |")
            print(rows[-1], flush=True)
    body = ("`next` → doc version over generated Doc/ trees (median of repeated runs; both change the same "
            "files).\nThe peer column is a model of release-tools' `update_version_next.py` algorithm "
            "(glob + per-line regex, from the notes), not its code.\n\n"
            "| tree | relman `replace_doc_next` | peer model | speed-up |\n|---|---|---|---|\n" + "\n".join(rows))
    write_section("bump: doc `next` replacement", body)


if __name__ == "__main__":
    main()
