"""Web pages under load: p99 latency at 50 concurrent clients, cached vs rendered per request.

Side by side, in one run, on the same data:

- `/`, the release status dashboard, against a real Buildbot master holding a CPython-sized
  fleet (150 builders × 200 builds, bench_readiness's master). Cached: the page as the
  background refresher rendered it. Peer: judged and rendered for every request (what a
  dashboard without a cache does: CPython's caches for 6 minutes because of it).
- `/runs/N`, a run page: a real run journal (60 steps in 6 phases, 50 log lines each: 3,000+
  events). Cached: rendered once per journal version. Peer: read and rendered per request.
- a release page of the downloads site, when that feature is present.

Each configuration is a fresh `relman serve`-equivalent process (uvicorn, one worker) on
127.0.0.1; the clients are wrk's 50 connections (or, without wrk, 50 httpx async clients in
this process, each sending its requests one after the other).

    python bench/bench_web.py [--seconds 10] [--client wrk|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

CLIENTS = 50


# ---- the server side (a subprocess) ---------------------------------------------------------

def serve(args: argparse.Namespace) -> None:
    from relman.readiness.sources import ReadinessSources
    from relman.site.app import Site
    from relman.site.app import serve as serve_site

    sources = ReadinessSources(buildbot=args.buildbot or None, cycle=args.cycle or None, state_dir=Path(args.state))
    site = Site(data_dir=Path(args.data), state_dir=Path(args.state),
                options={"readiness": sources, "cache": args.cache == "on", "refresh_s": 5.0})
    serve_site(site, port=args.port)        # as `relman serve` does


def start_server(port: int, data: Path, state: Path, buildbot: str, cycle: Path, cache: bool) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--data", str(data),
                             "--state", str(state), "--buildbot", buildbot, "--cycle", str(cycle),
                             "--cache", "on" if cache else "off"], env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    import httpx
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the web server did not start")


# ---- the data -------------------------------------------------------------------------------

def make_run(state: Path) -> int:
    from relman.engine import ApprovalPolicy, Journal, Plan, Runner, Step

    def step_action(ctx):
        for i in range(50):
            ctx.log(f"{ctx.step.id}: line {i} of the step's output, as a build or a push would print it")
        return {"ok": True}

    phases = ["preflight", "source", "build", "publish", "post", "announce"]
    steps = []
    for p_index, phase in enumerate(phases):
        for i in range(10):
            deps = (f"{phases[p_index - 1]}.s9",) if p_index and i == 0 else ((f"{phase}.s{i - 1}",) if i else ())
            steps.append(Step(f"{phase}.s{i}", f"{phase} step {i}", step_action, deps=deps, phase=phase))
    journal = Journal(state / "relman.db")
    runner = Runner(journal, Plan.build("release", steps, {"version": "3.14.0rc1"}), key="bench:3.14.0rc1",
                    approvals=ApprovalPolicy(approve_all=True))
    run_id = runner.create_run()
    runner.execute(run_id)
    events = len(journal.events(run_id))
    journal.close()
    print(f"run journal: 60 steps, {events} events")
    return run_id


def make_release(data: Path) -> str | None:
    """A published release with 20 files, registered through the downloads API (when present)."""
    try:
        import relman.site.downloads  # noqa: F401
    except ImportError:
        return None
    from starlette.testclient import TestClient

    from relman.site.app import Site, create_app

    api, auth = "/api/v1/downloads/", {"Authorization": "ApiKey rm:bench"}
    site = Site(data_dir=data, api_keys={"rm": "bench"}, options={"ftp_root": str(data / "ftp")})
    with TestClient(create_app(site)) as client:
        os_uri = client.post(api + "os/", json={"name": "Source release", "slug": "source"},
                             headers=auth).json()["resource_uri"]
        release = client.post(api + "release/", headers=auth, json={
            "name": "Python 3.14.0rc1", "slug": "python-3140rc1", "is_published": True, "pre_release": True,
            "release_date": "2026-11-30T10:00:00+00:00"}).json()["resource_uri"]
        base = "https://downloads.example.org/ftp/python/3.14.0/"
        for i in range(20):
            name = f"Python-3.14.0rc1-part{i}.tar.xz"
            response = client.post(api + "release_file/", headers=auth, json={
                "name": f"file {i}", "slug": f"3140-rc1-file-{i}", "os": os_uri, "release": release,
                "url": base + name, "download_button": i == 0, "filesize": 23_000_000 + i,
                "sha256_sum": f"{i:02x}" * 32, "gpg_signature_file": base + name + ".asc"})
            assert response.status_code == 201, response.text
    return "/downloads/release/python-3140rc1/"


def start_master(tmp: Path):
    from bench.bench_readiness import (
        CYCLE,
        OFFLINE,
        WORKERS,
        builder_defs,
        master_cfg,
        populate,
    )
    from relman.ci.buildbot_local import LocalBuildbot

    defs = builder_defs()
    cycle = tmp / "release-cycle.json"
    cycle.write_text(json.dumps(CYCLE))
    bb = LocalBuildbot(tmp / "bb", master_cfg(defs), workers=tuple(WORKERS), offline_workers=tuple(OFFLINE),
                       start_timeout=120)
    bb.start()
    populate(bb.master_dir / "state.sqlite", defs, int(time.time()))
    print(f"Buildbot master: {len(defs)} builders × 200 builds at {bb.url}")
    return bb, cycle


# ---- the clients ----------------------------------------------------------------------------

async def load(url: str, requests: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    per_client = max(1, requests // CLIENTS)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=300) as client:
        async def one_client() -> None:
            nonlocal errors
            for _ in range(per_client):
                t = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - t)
                if response.status_code != 200:
                    errors += 1

        await client.get(url)                               # warm
        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {"n": len(latencies), "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "max": latencies[-1] * 1000, "rps": len(latencies) / wall, "errors": errors}


def _ms(text: str) -> float:
    """wrk's durations (850.00us, 15.33ms, 1.20s, 2.00m) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[found[2]]


def load_wrk(url: str, seconds: float) -> dict[str, float]:
    """50 connections from wrk (a C client: the CPU stays with the server), `--latency`."""
    out = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds:g}s", "--timeout", "120s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    found: dict[str, float] = {"errors": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["Latency"] and len(parts) >= 4:
            found["max"] = _ms(parts[3])
        elif parts[:1] in (["50%"], ["99%"]):
            found["p" + parts[0].rstrip("%")] = _ms(parts[1])
        elif parts[:1] == ["Requests/sec:"]:
            found["rps"] = float(parts[1])
        elif "requests in" in line:
            found["n"] = float(parts[0])
        elif parts[:2] == ["Non-2xx", "or"]:
            found["errors"] = float(parts[-1])
    return found


def row(name: str, cached: dict[str, float], peer: dict[str, float]) -> str:
    def cell(r: dict[str, float]) -> str:
        errors = int(r.get("errors", 0))
        failed = f", {errors} not 200" if errors else ""
        return (f"{r['p50']:.1f} / **{r['p99']:.1f}** / {r['max']:.0f} ms, {r['rps']:.0f} req/s "
                f"({int(r.get('n', 0))} req{failed})")
    return f"| {name} | {cell(cached)} | {cell(peer)} | {peer['p99'] / cached['p99']:.0f}× |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000, help="requests per cached configuration")
    parser.add_argument("--peer-dashboard-requests", type=int, default=100,
                        help="requests for the uncached dashboard (each one judges the whole fleet)")
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx",
                        help="load generator (default: wrk when installed)")
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk: seconds per configuration")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    for name in ("port", "data", "state", "buildbot", "cycle", "cache"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        args.port = int(args.port)
        serve(args)
        return

    import httpx

    from bench.results import write_section
    from relman.ci.buildbot_local import free_port

    results: dict[tuple[str, bool], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="relman-bench-web-") as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "state"
        state.mkdir()
        run_id = make_run(state)
        bb, cycle = start_master(tmp)
        try:
            pages = [("dashboard `/`", "/"), (f"run page `/runs/{run_id}`", f"/runs/{run_id}")]
            release = make_release(tmp / "site")
            if release:
                pages.append((f"release page `{release}`", release))
            for name, path in pages:
                for cached in (True, False):      # a fresh server for each: nothing left over in it
                    port = free_port()
                    proc = start_server(port, tmp / "site", state, bb.url, cycle, cached)
                    try:
                        base = f"http://127.0.0.1:{port}"
                        while cached and not httpx.get(base + "/status.json").json()["judged_at"]:
                            time.sleep(0.2)     # the first verdicts
                        count = args.requests if cached or path != "/" else args.peer_dashboard_requests
                        if args.client == "wrk":
                            seconds = args.seconds if cached or path != "/" else max(args.seconds, 60)
                            result = load_wrk(base + path, seconds)
                        else:
                            result = asyncio.run(load(base + path, count))
                        results[(name, cached)] = result
                        print(f"{'cached' if cached else 'uncached':8} {name:28} p50 {result['p50']:7.1f} ms  "
                              f"p99 {result['p99']:8.1f} ms  max {result['max']:8.1f} ms  {result['rps']:6.0f} req/s"
                              f"  errors {int(result['errors'])}")
                    finally:
                        proc.terminate()
                        try:
                            proc.wait(10)
                        except subprocess.TimeoutExpired:
                            proc.kill()
                            proc.wait()
        finally:
            bb.stop()

    names = [n for n, c in results if c]
    client = ("wrk -t2 -c50 (keep-alive)" if args.client == "wrk" else
              "50 httpx async clients (keep-alive), each sending its requests one after the other")
    body = [(f"{CLIENTS} concurrent clients: {client}, against one uvicorn process (httptools, uvloop) on "
             "127.0.0.1; 2 cores shared by the client, the server and (for the dashboard) the Buildbot master. "
             f"Load average when done: {os.getloadavg()[0]:.1f} (other work on the machine counts). "
             "Cells: p50 / **p99** / max, throughput, requests."),
            "", "| page | cached (relman serve) | rendered per request (peer) | p99 ratio |", "|---|---|---|---|"]
    body += [row(n, results[(n, True)], results[(n, False)]) for n in names]
    missed = [n for n in names if results[(n, True)]["p99"] >= 50.0]
    body += ["", ("Target p99 < 50 ms (cached pages): " + ("met." if not missed else
              f"**not met** here for {', '.join(missed)}: with the machine loaded (see the load average) "
              "the tail is the scheduler's; p50 shows the cost of a page.")), ]
    body += ["", ("Dashboard: a CPython-sized fleet (150 builders × 200 builds, bench_readiness's master); the "
             "peer judges it afresh for every request (as a dashboard without a cache must), the cached page "
             "is re-judged in the background on Buildbot's events (and every 60 s while they flow, every 5 s "
             "without them) by the dashboard's judging process (`relman.site.judging`), so that CPU never "
             "shares the serving process's interpreter lock. Every server in this table runs that refresher "
             "against the same master, as `relman serve` does. Run page: one run "
             "of 60 steps with 3,000+ journaled events; cached per journal version (SQLite data_version). "
             "Release page: a release with 20 files in the downloads store; cached per store version "
             "(SQLite data_version), the peer reads the store and renders for every request.")]
    worst = max(results[(n, True)]["p99"] for n in names)
    write_section("web pages under load", "\n".join(body), headline=(
        f"**web pages**: at {CLIENTS} concurrent clients, p99 " +
        ", ".join(f"{results[(n, True)]['p99']:.0f} ms for {n.split(' `')[0]}" for n in names) +
        f" (target < 50 ms: {'met' if worst < 50 else 'not met'}; the same pages rendered per request: p99 " +
        ", ".join(f"{results[(n, False)]['p99']:.0f} ms" for n in names) + ")"))


if __name__ == "__main__":
    main()
