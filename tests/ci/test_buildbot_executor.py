"""BuildbotExecutor against a real release build master with two real workers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from relman.ci.buildbot import CANCELLED, BuildbotClient
from relman.ci.buildbot_executor import BuildbotExecutor, collect_from_drop
from relman.ci.buildbot_local import free_port
from relman.ci.buildbot_release import DEFAULT_BUILDER, release_master_cfg, start_release_buildbot
from relman.ci.executor import BuildJob
from relman.errors import UsageError

from buildbot_fixture import require_buildbot


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory):
    require_buildbot()
    with start_release_buildbot(tmp_path_factory.mktemp("release-bb"), workers=2) as bb:
        yield bb


def py(code: str, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code, *args)


# A job that records when it started and ended, where it ran, and whether a file existed.
RECORD = """
import json, os, sys, time
out, pause, probe = sys.argv[1], float(sys.argv[2]), sys.argv[3]
start = time.time()
seen = os.path.exists(probe) if probe else None
time.sleep(pause)
with open(os.path.join(out, "record.json"), "w") as f:
    json.dump({"start": start, "end": time.time(), "seen": seen, "cwd": os.getcwd(),
               "greeting": os.environ.get("GREETING")}, f)
print("recorded", out)
"""


def record_job(tmp: Path, job_id: str, *, pause: float = 0.0, probe: str = "", **kw) -> BuildJob:
    out = tmp / "out" / job_id
    return BuildJob(job_id, py(RECORD, str(out), str(pause), probe), cwd=tmp, output_dir=out,
                    outputs=("record.json",), **kw)


def build_props(url: str, where: str, names: list[str]) -> dict:
    builderid, number = map(int, re.search(r"/#/builders/(\d+)/builds/(\d+)\)$", where).groups())

    async def go():
        async with BuildbotClient(url) as bb:
            found = await bb.get(f"/builders/{builderid}/builds/{number}", [("property", n) for n in names],
                                 key="builds")
            return found[0]
    build = asyncio.run(go())
    return {"results": build["results"], **{k: v[0] for k, v in build["properties"].items()}}


def test_jobs_succeed_and_their_files_land_in_output_dir(master, tmp_path: Path) -> None:
    workdir = tmp_path / "src"
    workdir.mkdir()
    out = tmp_path / "out" / "build-source"
    code = ("import os, pathlib, sys; out = pathlib.Path(sys.argv[1]); (out / 'sub').mkdir(exist_ok=True);"
            "(out / 'Sample-1.0.tgz').write_bytes(b'archive'); (out / 'sub' / 'notes.txt').write_text(os.getcwd());"
            "print('built in', os.getcwd(), 'tag', os.environ['RELMAN_TAG'])")
    job = BuildJob("build-source", py(code, str(out)), cwd=workdir, output_dir=out,
                   outputs=("*.tgz", "sub/*.txt"), env={"RELMAN_TAG": "v1.0.0", "RELMAN_COMMIT": "abc123"})
    events: list[tuple[str, str]] = []
    results = master.executor(poll=0.1, log_dir=tmp_path / "logs").run(
        [job], on_event=lambda job_id, kind, message: events.append((job_id, kind)))
    result = results["build-source"]
    assert result.ok, result.error
    assert result.returncode == 0
    assert result.outputs == [out / "Sample-1.0.tgz", out / "sub" / "notes.txt"]
    assert (out / "sub" / "notes.txt").read_text() == str(workdir)            # ran in job.cwd
    assert re.fullmatch(rf"buildbot: {DEFAULT_BUILDER} build #\d+ \({re.escape(master.url)}#/builders/\d+/builds/\d+\)",
                        result.where)
    assert events == [("build-source", "started"), ("build-source", "finished")]
    log = result.log_path.read_text()
    assert result.log_path == tmp_path / "logs" / "build-source.log"
    assert f"built in {workdir} tag v1.0.0" in log and "=== step" in log and "exit code 0" in log
    # the build carries the job as properties, tag and commit included
    props = build_props(master.url, result.where, ["tag", "commit", "job_id", "argv", "workername"])
    assert (props["tag"], props["commit"], props["job_id"]) == ("v1.0.0", "abc123", "build-source")
    assert json.loads(props["argv"]) == list(job.argv) and props["workername"] in master.workers
    # and it uploaded output_dir to the master's drop dir
    number = re.search(r"build #(\d+)", result.where).group(1)
    drop = master.drop_dir / DEFAULT_BUILDER / number
    assert (drop / "Sample-1.0.tgz").read_bytes() == b"archive" and (drop / "sub" / "notes.txt").is_file()


def test_a_failing_job_has_its_log_tail_and_exit_code(master, tmp_path: Path) -> None:
    code = "import sys; [print('line', i) for i in range(100)]; print('boom: no compiler', file=sys.stderr); sys.exit(3)"
    job = BuildJob("test-source", py(code), cwd=tmp_path, output_dir=tmp_path / "out")
    result = master.executor(poll=0.1).run([job])["test-source"]
    assert not result.ok and result.returncode == 3
    lines = result.error.splitlines()
    assert lines[0] == "exited 3" and lines[-1] == "boom: no compiler"
    assert "line 99" in result.error and "line 50" not in result.error      # the tail, not the whole log
    assert result.log_path == tmp_path / "out" / "test-source.log"
    assert "line 0\n" in result.log_path.read_text()
    assert "build #" in result.where


def test_a_missing_declared_output_fails_the_job(master, tmp_path: Path) -> None:
    job = BuildJob("docs", py("print('forgot to write')"), cwd=tmp_path, output_dir=tmp_path / "docs",
                   outputs=("*.zip",))
    result = master.executor(poll=0.1).run([job])["docs"]
    assert not result.ok and result.returncode == 0
    assert result.error == f"finished but produced no *.zip in {tmp_path / 'docs'}"


def test_dependencies_are_respected(master, tmp_path: Path) -> None:
    a = record_job(tmp_path, "a", pause=0.5, env={"GREETING": "hi"})
    b = record_job(tmp_path, "b", probe=str(a.output_dir / "record.json"), deps=("a",))
    fail = BuildJob("f", py("import sys; sys.exit(1)"), cwd=tmp_path, output_dir=tmp_path / "out" / "f")
    g = record_job(tmp_path, "g", deps=("f",))
    h = record_job(tmp_path, "h", deps=("g",))
    results = master.executor(poll=0.1).run([h, g, b, fail, a])
    assert list(results) == ["h", "g", "b", "f", "a"]
    assert results["a"].ok and results["b"].ok, (results["a"].error, results["b"].error)
    ra = json.loads((a.output_dir / "record.json").read_text())
    rb = json.loads((b.output_dir / "record.json").read_text())
    assert ra["greeting"] == "hi" and rb["greeting"] is None            # the job's env, nobody else's
    assert rb["seen"] is True and rb["start"] >= ra["end"]                # B started after A finished
    assert not results["f"].ok
    assert results["g"].error == "not run: dependency f failed" and results["g"].log_path is None
    assert results["h"].error == "not run: dependency g failed"
    assert not (tmp_path / "out" / "g").exists() and not (tmp_path / "out" / "h").exists()


def test_independent_jobs_run_in_parallel_on_both_workers(master, tmp_path: Path) -> None:
    jobs = [record_job(tmp_path, name, pause=2.0) for name in ("p1", "p2")]
    results = master.executor(poll=0.1).run(jobs)
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    r1, r2 = (json.loads((j.output_dir / "record.json").read_text()) for j in jobs)
    assert r1["start"] < r2["end"] and r2["start"] < r1["end"]          # the two runs overlap
    workers = {build_props(master.url, r.where, ["workername"])["workername"] for r in results.values()}
    assert workers == set(master.workers)


def test_a_job_past_its_timeout_is_stopped(master, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); print('sleeping', flush=True); time.sleep(120)"
    job = BuildJob("slow", py(code, str(pid_file)), cwd=tmp_path, output_dir=tmp_path / "slow", timeout=4.0)
    result = master.executor(poll=0.1).run([job])["slow"]
    assert not result.ok
    assert result.error.startswith("timed out after 4 s; build stopped") and "sleeping" in result.error
    assert build_props(master.url, result.where, ["job_id"])["results"] == CANCELLED
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):      # the worker killed the command
        os.kill(pid, 0)


def test_jobs_pinned_to_a_worker_and_an_unknown_builder(master, tmp_path: Path) -> None:
    pinned = record_job(tmp_path, "pinned")
    lost = record_job(tmp_path, "lost")
    executor = master.executor(poll=0.1, builder={"pinned": "relman-w2", "lost": "No Such Builder"})
    results = executor.run([pinned, lost])
    assert results["pinned"].ok and results["pinned"].where.startswith("buildbot: relman-w2 build #")
    assert build_props(master.url, results["pinned"].where, ["workername"])["workername"] == "w2"
    assert not results["lost"].ok
    assert results["lost"].error.startswith(f"could not force a build on 'No Such Builder': no builder named "
                                            f"'No Such Builder' on {master.url.rstrip('/')}")
    assert "hint: builders on this master: relman-jobs, relman-w1, relman-w2" in results["lost"].error
    assert "No Such Builder" in results["lost"].log_path.read_text()


# ---- without a master -----------------------------------------------------------------------
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/"


def test_an_unreachable_master_fails_every_job_without_raising(tmp_path: Path) -> None:
    url = dead_url()
    jobs = [record_job(tmp_path, "one"), record_job(tmp_path, "two", deps=("one",))]
    results = BuildbotExecutor(url, poll=0.05).run(jobs)
    assert not results["one"].ok and url.rstrip("/") in results["one"].error
    assert "could not connect" in results["one"].error
    assert results["two"].error == "not run: dependency one failed"


def test_cycles_and_unknown_dependencies_are_not_run(tmp_path: Path) -> None:
    jobs = [record_job(tmp_path, "x", deps=("y",)), record_job(tmp_path, "y", deps=("x",)),
            record_job(tmp_path, "z", deps=("x",)), record_job(tmp_path, "u", deps=("nope",))]
    results = BuildbotExecutor(dead_url()).run(jobs)
    assert {k: r.error for k, r in results.items()} == {
        "x": "not run: dependency cycle", "y": "not run: dependency cycle", "z": "not run: dependency cycle",
        "u": "unknown dependency nope"}


def test_run_from_inside_an_event_loop(tmp_path: Path) -> None:
    async def inside():
        return BuildbotExecutor(dead_url(), poll=0.05).run([record_job(tmp_path, "one")])
    assert not asyncio.run(inside())["one"].ok


def test_collect_from_drop_copies_only_what_is_missing(tmp_path: Path) -> None:
    drop, out = tmp_path / "drop", tmp_path / "out"
    (drop / "sub").mkdir(parents=True)
    (drop / "a.tgz").write_bytes(b"from the worker")
    (drop / "sub" / "b.txt").write_text("b")
    out.mkdir()
    (out / "a.tgz").write_bytes(b"already here")
    assert collect_from_drop(drop, out) == [out / "sub" / "b.txt"]
    assert (out / "a.tgz").read_bytes() == b"already here" and (out / "sub" / "b.txt").read_text() == "b"
    assert collect_from_drop(tmp_path / "missing", out) == []


def test_master_cfg_needs_workers(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least one worker"):
        release_master_cfg([], tmp_path)
    with pytest.raises(UsageError, match="unique"):
        release_master_cfg(["w1", "w1"], tmp_path)
    cfg = release_master_cfg(["w1"], tmp_path)
    compile(cfg, "master.cfg", "exec")
    assert 'c["collapseRequests"] = False' in cfg and 'c["buildbotNetUsageData"] = None' in cfg
    assert "interface=127.0.0.1" in cfg


def test_start_release_buildbot_stops_everything_on_error(tmp_path: Path) -> None:
    require_buildbot()
    with pytest.raises(RuntimeError, match="inside"):
        with start_release_buildbot(tmp_path / "bb", workers=["solo"]) as bb:
            procs = list(bb.local._procs)
            assert len(procs) == 2 and all(p.poll() is None for p in procs)
            raise RuntimeError("inside")
    assert all(p.poll() is not None for p in procs)
