"""news merge on an awkward 16,000-fragment tree: blurb 2.3.0 and relman, side by side.

The headline news benchmark. The tree has the shape of bench_news.py's (22 released versions x
500 entries + 5,000 next/ fragments, seed 1) with `edge_cases=True`: bpo and CVE entries, lists,
literal blocks after `::`, long unbreakable words, double spaces, tabs, non-breaking and other
Unicode spaces, trailing whitespace, CRLF files — the text that cannot take relman's fast path.

Each repetition runs, in turn, as a user runs them (whole commands, interpreter start included):
  * `blurb merge -f`;
  * `relman news merge` with an empty cache (the first merge on a machine: "cold");
  * `relman news merge` with the released versions already in its cache ("warm": every later
    merge, since released version files never change; next/ is always rendered afresh).
Every run's output must equal blurb's, byte for byte. Wall time and CPU time (user + system of
every process, relman's merge worker included) are recorded; medians are reported.

Run from the repository root:  .venv/bin/python bench/bench_news_awkward.py [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_news import BLURB, RELMAN, timed  # noqa: E402  (the same commands, timed the same way)
from bench.results import write_section  # noqa: E402
from relman.news.synthetic import make_tree  # noqa: E402

TARGET = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "src" / "relman", quiet=1)
    work = Path(tempfile.mkdtemp(prefix="bench-news-awkward-"))
    try:
        root = work / "cpython"
        news = make_tree(root, released=22, per_version=500, next_count=5000, seed=1, edge_cases=True)
        reference = root / "Misc" / "NEWS"
        subprocess.run([BLURB, "merge", "-f"], cwd=root, check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)  # warm-up (page cache), not timed
        expected = reference.read_bytes()
        size_mb = len(expected) / 1e6
        warm_cache = work / "cache-warm"
        base_env = {k: v for k, v in os.environ.items() if k not in ("RELMAN_NEWS_CACHE", "RELMAN_NEWS_JOBS")}
        subprocess.run([RELMAN, "news", "merge", str(work / "prime.NEWS"), "--news-dir", str(news)], check=True,
                       capture_output=True, env={**base_env, "RELMAN_CACHE_DIR": str(warm_cache)})
        results: dict[str, list[tuple[float, float]]] = {"blurb": [], "relman cold": [], "relman warm": []}
        for run in range(args.runs):
            reference.unlink()
            results["blurb"].append(timed([BLURB, "merge", "-f"], root, base_env))
            assert reference.read_bytes() == expected, "blurb's output changed between runs"
            cold_cache = work / f"cache-cold-{run}"
            for key, cache in (("relman cold", cold_cache), ("relman warm", warm_cache)):
                out = work / f"{key.replace(' ', '-')}.NEWS"
                out.unlink(missing_ok=True)
                results[key].append(timed([RELMAN, "news", "merge", str(out), "--news-dir", str(news)], work,
                                          {**base_env, "RELMAN_CACHE_DIR": str(cache)}))
                assert out.read_bytes() == expected, f"{key}: output differs from blurb"
            shutil.rmtree(cold_cache, ignore_errors=True)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in results.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(key: str, index: int) -> float:
        return statistics.median(r[index] for r in results[key])

    blurb_wall, blurb_cpu = med("blurb", 0), med("blurb", 1)
    rows = []
    verdicts = {}
    for key, label in (("relman warm", "relman, released versions cached (every merge after the first)"),
                       ("relman cold", "relman, empty cache (the first merge on a machine)")):
        wall, cpu = med(key, 0), med(key, 1)
        worst = min(r[0] for r in results["blurb"]) / max(r[0] for r in results[key])
        verdicts[key] = blurb_wall / wall
        rows.append(f"| {label} | {blurb_wall:.2f} s | {wall:.2f} s | **{blurb_wall / wall:.1f}×** "
                    f"({worst:.1f}× worst) | {blurb_cpu:.2f} s | {cpu:.2f} s | {blurb_cpu / cpu:.1f}× |")
    headline = verdicts["relman warm"]
    body = f"""
The headline news figure. Tree: 22 released versions × 500 entries + 5,000 `next/` fragments
(seed 1) written with every awkward rule (lists, literal blocks, long words, double spaces,
tabs, NBSP and other Unicode spaces, trailing whitespace, CRLF); {size_mb:.1f} MB of Misc/NEWS.
Whole commands as a user runs them; relman's output byte-identical to blurb's in every run.
Medians of {args.runs} interleaved runs. "worst" is blurb's fastest run over relman's slowest.
CPU time is user + system of every process (relman's forked merge worker included).

| what | blurb wall | relman wall | wall speed-up | blurb CPU | relman CPU | CPU speed-up |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Target ≥ {TARGET:.0f}× (PRODUCT.md) on this tree with the cache warm: **{"met" if headline >= TARGET else "MISSED"}**
({headline:.1f}×). The cache (`relman.news.cache`) keeps each released version's rendered text
keyed by the SHA-256 of its bytes, the renderer's own source and the rendering settings;
`next/` is rendered afresh every time. `RELMAN_NEWS_CACHE=0` turns it off.
"""
    print(body)
    write_section("news merge, awkward tree (headline)", body, headline=(
        f"**news merge**: on an awkward 16,000-entry tree, byte-identical to blurb 2.3.0 and "
        f"{headline:.1f}× faster with released versions cached ({verdicts['relman cold']:.1f}× on a cold cache)"))


if __name__ == "__main__":
    main()
