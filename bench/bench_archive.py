"""Source archives: relman's in-process build vs CPython's shell pipeline, side by side.

A CPython-sized tree (~5,000 files, ~100 MB of source text taken from this Python's stdlib)
is committed and tagged in a scratch repository. Then, in the same run:

- peer: `git archive` → extract → remove `.github`, `.git*`, `Misc/NEWS.d` → GNU tar with the
  reproducibility options piped to `gzip -n -9`, then `tar cJf` with the same options
  (what release-tools' `export()` and `tarball()` do);
- relman: `build_source_archives` (git archive stream → export rules in memory → one tar →
  zlib and multi-threaded block-mode xz in parallel), twice, checking the bytes are identical.

Run from the repository root: `.venv/bin/python bench/bench_archive.py [--files N] [--mb M]`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from relman.artifacts.archive import build_source_archives  # noqa: E402

VERSION = "3.14.0"
DATE = "2026-10-07T12:00:00Z"


def corpus() -> list[bytes]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) > 2000:
            texts.append(data)
    return texts


def generate_tree(repo: Path, files: int, megabytes: int, seed: int = 314) -> None:
    """~`files` files totalling ~`megabytes` MB of source-like text, plus what exports remove."""
    rnd = random.Random(seed)
    texts = corpus()
    average = megabytes * 1024 * 1024 // files
    folders = ["Lib", "Lib/test", "Modules", "Objects", "Python", "Include", "Doc/library", "Tools/scripts",
               "PC", "Misc", "Parser"]
    for i in range(files):
        folder = rnd.choice(folders) + (f"/pkg{rnd.randrange(40)}" if rnd.random() < 0.5 else "")
        path = repo / folder / f"file_{i:05d}{rnd.choice(['.py', '.c', '.h', '.rst'])}"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = max(300, int(rnd.expovariate(1 / average)))
        out = bytearray(f"# generated file {i} {rnd.getrandbits(64):016x}\n".encode())
        while len(out) < size:
            text = rnd.choice(texts)
            start = rnd.randrange(len(text) // 2)
            out += text[start:start + size - len(out)]
        path.write_bytes(bytes(out))
    for i in range(200):
        fragment = repo / f"Misc/NEWS.d/next/Library/2026-10-01-00-00-{i:02d}.gh-issue-{1000 + i}.abc{i}.rst"
        fragment.parent.mkdir(parents=True, exist_ok=True)
        fragment.write_text(f"Fixed issue {i}.\n")
    (repo / ".github/workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".github/workflows/build.yml").write_text("on: push\n")
    (repo / ".gitignore").write_text("*.o\n")
    (repo / ".gitattributes").write_text("*.c text\n")
    env = {**os.environ, "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE, "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.org", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.org"}
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "tree"],
                 ["git", "tag", "-a", f"v{VERSION}", "-m", VERSION]):
        subprocess.run(argv, cwd=repo, check=True, env=env)


def peer_pipeline(repo: Path, work: Path) -> dict[str, float]:
    """release-tools' export + tarball, as shell commands (timed per stage)."""
    times = {}
    dist = work / VERSION
    dist.mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run(["git", "archive", "--format=tar", f"--prefix=Python-{VERSION}/", "-o",
                    str(dist / f"Python-{VERSION}.tar"), f"v{VERSION}"], cwd=repo, check=True)
    times["git archive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(["tar", "xf", f"Python-{VERSION}.tar"], cwd=dist, check=True)
    os.remove(dist / f"Python-{VERSION}.tar")
    tree = dist / f"Python-{VERSION}"
    for name in (".gitattributes", ".gitignore"):
        (tree / name).unlink()
    for name in ("Misc/NEWS.d", ".github"):
        shutil.rmtree(tree / name)
    times["extract + delete"] = time.perf_counter() - t0
    commit_time = subprocess.run(["git", "log", "-1", "--format=%cd", "--date=format:%Y-%m-%d %H:%M:%SZ",
                                  f"v{VERSION}"], cwd=repo, check=True, capture_output=True,
                                 text=True).stdout.strip()
    opts = ["--sort=name", f"--mtime={commit_time}", "--clamp-mtime", "--owner=0", "--group=0", "--numeric-owner",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime", "--mode=go+u,go-w"]
    src = dist / "src"
    src.mkdir()
    t0 = time.perf_counter()
    subprocess.run(["tar", "cf", str(src / f"Python-{VERSION}.tgz"), *opts, "--use-compress-program",
                    "gzip --no-name -9", f"Python-{VERSION}"], cwd=dist, check=True)
    times["tar | gzip -9"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(["tar", "cJf", str(src / f"Python-{VERSION}.tar.xz"), *opts, f"Python-{VERSION}"],
                   cwd=dist, check=True)
    times["tar cJf"] = time.perf_counter() - t0
    # The same xz step as a careful user would run it on this machine: two xz threads.
    t0 = time.perf_counter()
    subprocess.run(["tar", "cJf", str(src / f"Python-{VERSION}-T2.tar.xz"), *opts, f"Python-{VERSION}"],
                   cwd=dist, check=True, env={**os.environ, "XZ_OPT": "-T2"})
    times["tar cJf -T2"] = time.perf_counter() - t0
    times["sizes"] = {p.name: p.stat().st_size for p in src.iterdir()}  # type: ignore[assignment]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relman-bench-archive-") as tmp:
        work = Path(tmp)
        repo = work / "cpython"
        repo.mkdir()
        t0 = time.perf_counter()
        generate_tree(repo, args.files, args.mb)
        print(f"generated {args.files} files (~{args.mb} MB) in {time.perf_counter() - t0:.1f} s", flush=True)

        def no_news(files):   # neither side merges the news in the timed section
            return {"Misc/NEWS": b"Python News\n"}

        t0 = time.perf_counter()
        first = build_source_archives(repo, VERSION, work / "relman1", profile="cpython", generate=no_news)
        relman_1 = time.perf_counter() - t0
        print(f"relman: {relman_1:.1f} s", flush=True)
        peer = peer_pipeline(repo, work / "peer")
        peer_total = sum(v for k, v in peer.items() if k not in ("sizes", "tar cJf -T2"))
        peer_total_t2 = peer_total - peer["tar cJf"] + peer["tar cJf -T2"]
        print(f"peer:   {peer_total:.1f} s  {peer}", flush=True)
        t0 = time.perf_counter()
        second = build_source_archives(repo, VERSION, work / "relman2", profile="cpython", generate=no_news)
        relman_2 = time.perf_counter() - t0
        print(f"relman (rebuild): {relman_2:.1f} s", flush=True)
        identical = [f.sha256 for f in first.files] == [f.sha256 for f in second.files]
        relman_best = min(relman_1, relman_2)
        ratio = peer_total / relman_best
        ratio_t2 = peer_total_t2 / relman_best
        sizes = {f.name: f.size for f in first.files}
        tar_mb = first.build_info["tar_size"] / 1e6
        body = f"""
Tree: {args.files} files, uncompressed tar {tar_mb:.0f} MB (stdlib text), {os.cpu_count()} cores.
Both sides start from the tag and produce `.tgz` (gzip -9) and `.tar.xz` (xz preset 6).

| pipeline | wall |
|---|---|
| peer: `git archive` | {peer['git archive']:.1f} s |
| peer: extract, delete `.github`/`.git*`/`Misc/NEWS.d` | {peer['extract + delete']:.1f} s |
| peer: `tar --sort=name … \\| gzip -n -9` | {peer['tar | gzip -9']:.1f} s |
| peer: `tar cJf …` (xz -6, one thread) | {peer['tar cJf']:.1f} s |
| **peer total** (release-tools as it runs today) | **{peer_total:.1f} s** |
| peer: `XZ_OPT=-T2 tar cJf …` (xz -6, two threads, as a careful user would run it) | {peer['tar cJf -T2']:.1f} s |
| **peer total with `XZ_OPT=-T2`** | **{peer_total_t2:.1f} s** |
| relman `build_source_archives` (first build) | {relman_1:.1f} s |
| relman (rebuild) | {relman_2:.1f} s |
| **speed-up vs the pipeline as run today (peer / best relman)** | **{ratio:.2f}×** (target ≥ 2×: {"met" if ratio >= 2 else "MISSED"}) |
| **speed-up vs the pipeline with `XZ_OPT=-T2`** | **{ratio_t2:.2f}×** |

Sizes: peer `.tgz` {peer['sizes'][f'Python-{VERSION}.tgz']:,} B, `.tar.xz` {peer['sizes'][f'Python-{VERSION}.tar.xz']:,} B;
relman `.tgz` {sizes[f'Python-{VERSION}.tgz']:,} B, `.tar.xz` {sizes[f'Python-{VERSION}.tar.xz']:,} B
(xz in {first.build_info['xz']['block_size']:,}-byte blocks so two threads share the work).
Rebuild byte-identical: **{'yes' if identical else 'NO'}**.
The machine is shared and noisy; both sides ran in the same process, one after the other.
"""
        print(body)
        write_section("source archives", body, headline=(
            f"**source archives**: {ratio:.2f}× faster than CPython's shell pipeline as it runs today "
            f"({ratio_t2:.2f}× against it with `XZ_OPT=-T2`), byte-identical on rebuild: "
            f"{'yes' if identical else 'NO'}"))
        if not identical:
            sys.exit("relman's two builds differ")


if __name__ == "__main__":
    main()
