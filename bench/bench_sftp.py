"""SFTP upload of a 5,000-file docs tree to a local OpenSSH sshd: relman vs CPython's way.

Peer (measured in the same run): paramiko, one `put` after another over one SFTP session,
creating each folder first — what release-tools' upload does (`sftp.put` per file in a walk).
relman: `SftpTarget.upload_tree`, the tree as one tar stream over one SSH channel into a
staging folder, swapped into place with two renames (how `publish.docs` places docs).
For information, also relman's per-file SFTP upload with 16 transfers in flight.

The remote folder is measured on tmpfs (/dev/shm: what the network path costs) and on disk
(where the server's file creation adds ~1 ms per file on this machine). Medians of 3 runs.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from results import write_section  # noqa: E402

from relman.demo.sshd import Sshd, find_sshd  # noqa: E402
from relman.publish.files import PublishedFile  # noqa: E402
from relman.publish.sftp import SftpTarget  # noqa: E402

FILES, DIRS, RUNS = 5000, 50, 3


def make_tree(folder: Path) -> tuple[int, int]:
    rng = random.Random(5000)
    total = 0
    for i in range(FILES):
        sub = folder / f"section{i % DIRS:02}"
        sub.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(2_000, 18_000))
        (sub / f"page{i:04}.html").write_bytes(data)
        total += len(data)
    return FILES, total


def paramiko_sequential(sshd: Sshd, local: Path, remote: str) -> None:
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port=sshd.port, username=sshd.user, key_filename=str(sshd.user_key),
                   look_for_keys=False, allow_agent=False)
    sftp = client.open_sftp()
    try:
        sftp.mkdir(remote)
        for dirpath, dirnames, filenames in os.walk(local):
            rel = os.path.relpath(dirpath, local)
            target = remote if rel == "." else f"{remote}/{rel}"
            for d in sorted(dirnames):
                sftp.mkdir(f"{target}/{d}")
            for f in sorted(filenames):
                sftp.put(os.path.join(dirpath, f), f"{target}/{f}")
    finally:
        sftp.close()
        client.close()


def target(sshd: Sshd, root: str, parallel: int = 16) -> SftpTarget:
    return SftpTarget("127.0.0.1", port=sshd.port, user=sshd.user, known_hosts=str(sshd.known_hosts),
                      key=str(sshd.user_key), root=root, parallel=parallel)


def relman_stream(sshd: Sshd, local: Path, remote: str) -> None:
    target(sshd, str(Path(remote).parent)).upload_tree(local, remote)


def relman_parallel_files(sshd: Sshd, local: Path, remote: str, files: list[PublishedFile]) -> None:
    # flat: per-file upload is the downloads-folder path, not a tree path
    target(sshd, str(Path(remote).parent)).upload(Path(remote).name, files)


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def measure(sshd: Sshd, local: Path, base: Path, flat: list[PublishedFile]) -> dict[str, float]:
    results: dict[str, list[float]] = {"paramiko": [], "stream": [], "parallel": []}
    for run in range(RUNS):
        for name, values in results.items():
            dest = base / f"{name}-{run}"
            if name == "paramiko":
                values.append(timed(paramiko_sequential, sshd, local, str(dest)))
            elif name == "stream":
                values.append(timed(relman_stream, sshd, local, str(dest)))
            else:
                values.append(timed(relman_parallel_files, sshd, local, str(dest), flat))
            assert sum(1 for p in dest.rglob("*") if p.is_file()) == FILES, (name, dest)
            shutil.rmtree(dest)
            shutil.rmtree(base / ".relman-staging", ignore_errors=True)
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> int:
    sshd_path = find_sshd()
    if sshd_path is None:
        print("sshd is not installed (apt-get install openssh-server)")
        return 1
    with tempfile.TemporaryDirectory(prefix="relman-bench-sftp-") as tmp:
        work = Path(tmp)
        local = work / "docs"
        count, size = make_tree(local)
        flat_dir = work / "flat"
        flat_dir.mkdir()
        flat = []
        for path in sorted(local.rglob("*.html")):
            data = path.read_bytes()
            (flat_dir / path.name).write_bytes(data)
            flat.append(PublishedFile(path.name, len(data), hashlib.sha256(data).hexdigest(), flat_dir / path.name))
        sshd = Sshd(sshd_path, work / "sshd").start()
        rows = []
        try:
            shm = Path("/dev/shm")
            places = [("tmpfs (/dev/shm)", Path(tempfile.mkdtemp(prefix="relman-bench-", dir=shm)))] \
                if shm.is_dir() else []
            places.append(("disk", work / "remote"))
            for label, base in places:
                base.mkdir(parents=True, exist_ok=True)
                got = measure(sshd, local, base, flat)
                rows.append((label, got))
                print(label, {k: round(v, 2) for k, v in got.items()}, flush=True)
                if base.parent == shm:
                    shutil.rmtree(base, ignore_errors=True)
        finally:
            sshd.stop()
    lines = [f"A docs tree of {count:,} files in {DIRS} folders ({size / 1e6:.0f} MB) uploaded to OpenSSH sshd on",
             "127.0.0.1 (temporary keys, strict host-key checking on both sides). Peer: paramiko, one `put` after",
             "another (CPython's release-tools). relman: `SftpTarget.upload_tree` (one tar stream over SSH into a",
             "staging folder, then swapped in). Also shown: relman's per-file SFTP upload, 16 in flight, staged +",
             f"renamed + `sha256sum`-checked (the downloads-folder path). Medians of {RUNS} runs.", "",
             "| remote folder | paramiko sequential | relman tar stream | speed-up | relman per-file, 16 in flight |",
             "|---|---|---|---|---|"]
    for label, got in rows:
        lines.append(f"| {label} | {got['paramiko']:.2f} s | {got['stream']:.2f} s | "
                     f"**{got['paramiko'] / got['stream']:.1f}x** | {got['parallel']:.2f} s |")
    load = (f"Load average when written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shared "
            "the machine: compare the columns of one row, not rows across runs).")
    lines += ["", load, "",
              "Target: ≥ 5x on tmpfs. The per-file rows show why relman streams trees: per-file round trips,",
              "not bandwidth, are the cost (the disk row adds the server's own file creation to every method)."]
    ratios = "; ".join(f"{got['paramiko'] / got['stream']:.1f}× on {label.split(' ')[0]}" for label, got in rows)
    write_section("SFTP upload of a 5,000-file docs tree", "\n".join(lines), headline=(
        f"**SFTP**: a {count:,}-file docs tree uploaded to OpenSSH sshd {ratios} faster than a sequential "
        "paramiko upload (target ≥ 5× on tmpfs)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
