"""Release builds on workers that share nothing with the release manager: attacks.

One real Buildbot master with two real workers running as another user (`relman-worker`, its
own HOME and venv), the fork served over `git daemon`, and the release manager's files
private (0700). The release steps run against it directly (not the whole release: the
isolated end-to-end run is tests/e2e/test_demo.py::test_demo_on_isolated_buildbot_workers).

- the worker's user cannot read the RM's checkout, journal or keyring, even from a build;
- a tag moved on the fork: an honest worker refuses to build it; a worker that builds it
  anyway is caught when its files arrive, and nothing is signed;
- a worker killed in the middle of a build: Buildbot gives the job to the other worker and
  the build still arrives and checks out (a file changed on its way would not); with no other
  worker the step fails clearly and running it again converges;
- the reproducibility gate across two workers stops when one worker's build differs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from buildbot_fixture import require_buildbot
from conftest import REQUIRE_ALL, require_tool
from remote_farm import TAG, VERSION, Farm, buildbot_settings, released_demo

from relman.ci.buildbot_isolated import start_isolated_buildbot, worker_can_read
from relman.ci.executor import BuildJob
from relman.demo.signing import stop_demo_agent
from relman.errors import CheckFailed, StepFailed
from relman.release.remote_build import (
    build_artifacts_remote,
    check_arrival,
    check_reproducible_remote,
    run_remote_build,
    worker_lines,
)
from relman.vcs import Git

pytestmark = pytest.mark.slow


def require_root() -> None:
    if os.geteuid() != 0:
        if REQUIRE_ALL:
            pytest.fail("isolated build workers need root (to run them as another user), and RELMAN_REQUIRE_ALL=1")
        pytest.skip("isolated build workers need root (to run them as another user)")


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory):
    require_root()
    require_buildbot()
    require_tool("git")
    root = tmp_path_factory.mktemp("remote-workers")
    # A released sample (local executor): its tag is on fork.git. Then a fork where the tag was moved.
    demo = released_demo(root)
    moved = root / "moved"
    subprocess.run(["git", "clone", "-q", str(demo / "fork.git"), str(moved)], check=True)
    subprocess.run(["git", "-C", str(moved), "checkout", "-q", TAG], check=True)
    (moved / "EVIL.txt").write_text("not what the release manager tagged\n")
    subprocess.run(["git", "-C", str(moved), "add", "EVIL.txt"], check=True)
    subprocess.run(["git", "-C", str(moved), "commit", "-q", "-m", "sneaky"], check=True)
    subprocess.run(["git", "-C", str(moved), "tag", "-f", "-a", "-m", "moved", TAG], check=True, capture_output=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(moved), str(demo / "tampered.git")], check=True)
    tampered_commit = Git(moved).out("rev-parse", "HEAD")
    for private in (root, demo, demo / "cpython", demo / "state", demo / "gnupg"):
        private.chmod(0o700)
    settings = buildbot_settings(demo)
    try:
        with start_isolated_buildbot(root / "bb", 2, serve=[demo / "fork.git", demo / "tampered.git"]) as bb:
            assert bb.isolated, bb.isolation
            yield Farm(root, bb, settings, tampered_commit)
    finally:
        stop_demo_agent(demo)     # signing here started the demo keyring's gpg-agent again


def test_the_workers_user_cannot_read_the_release_managers_files(farm: Farm, tmp_path: Path) -> None:
    demo = farm.root / "demo"
    secrets = [demo / "cpython", demo / "cpython" / ".git" / "config", demo / "state" / "relman.db", demo / "gnupg"]
    for path in secrets:
        assert path.exists()
        assert not worker_can_read(farm.bb.account, path), f"the worker's user can read {path}"
    # ...and the worker processes themselves: a build that tries, on each worker, fails
    for worker in farm.bb.release.workers:
        pid = farm.bb.release.local.worker_pid(worker)
        status = Path(f"/proc/{pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid) == farm.bb.account.uid
        code = ("import sys, json\nout = {}\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'rb').read(1)\n"
                "        out[p] = 'read'\n    except OSError as e:\n        out[p] = type(e).__name__\n"
                "print('RESULT ' + json.dumps(out))")
        files = [str(demo / "state" / "relman.db"), str(demo / "cpython" / ".git" / "config"),
                 str(demo / "gnupg" / "pubring.kbx")]
        job = BuildJob(f"snoop-{worker}", ("python3", "-c", code, *files), cwd=Path("relman"),
                       output_dir=tmp_path / worker, worker_output_dir="relman/snoop", worker=worker)
        result = farm.bb.executor(log_dir=tmp_path, poll=0.2).run([job])[job.id]
        assert result.ok, result.error
        line = next(x for x in Path(result.log_path).read_text().splitlines() if x.startswith("RESULT "))
        assert set(json.loads(line[len("RESULT "):]).values()) == {"PermissionError"}


def test_an_honest_worker_refuses_a_moved_tag(farm: Farm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    tampered = farm.source("tampered.git")
    ctx = farm.ctx("build.artifacts", release, {"build.fork-tag": tampered.as_dict()})
    with pytest.raises(StepFailed) as failed:
        build_artifacts_remote(ctx)
    message = failed.value.message
    assert f"points to {farm.tampered_commit}, not to the commit asked for, {farm.commit}" in message
    assert not release.artifacts_dir.exists(), "nothing was signed"


LYING_WORKER = """
import subprocess, sys
args = sys.argv[1:]
url, tag = args[args.index("--url") + 1], args[args.index("--tag") + 1]
refs = subprocess.run(["git", "ls-remote", url, f"refs/tags/{tag}^{{}}"], capture_output=True, text=True).stdout
args[args.index("--commit") + 1] = refs.split()[0]      # build whatever the tag names now
sys.exit(subprocess.call(["relman", *args]))
"""


def test_a_worker_that_builds_another_commit_is_caught_before_signing(farm: Farm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    ctx = farm.ctx("build.artifacts", release, {"build.fork-tag": farm.source("tampered.git").as_dict()},
                   worker_command=["python3", "-c", LYING_WORKER])
    with pytest.raises(CheckFailed) as failed:
        build_artifacts_remote(ctx)
    message = failed.value.message
    assert "nothing was signed" in message
    assert f"the worker built commit {farm.tampered_commit}, not {farm.commit}" in message
    assert not release.artifacts_dir.exists()
    incoming = release.work_dir / "incoming" / "build-release-files"
    assert (incoming / f"{VERSION}.manifest.json").is_file() and not list(incoming.glob("*.asc"))


def test_a_worker_that_vanishes_mid_build_hands_the_job_to_the_other(farm: Farm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    killed: list[str] = []
    watcher = farm.kill_mid_build(killed)
    try:
        ctx = farm.ctx("build.artifacts", release, {"build.fork-tag": farm.source().as_dict()})
        incoming, report, result = run_remote_build(ctx, release, farm.source(), "build-release-files")
    finally:
        watcher.join()
        farm.revive(killed)       # bring the machine back for the other tests
    assert killed, "no build was seen running"
    assert result.info["retried_after"] == killed
    assert result.info["worker"] != killed[0] and report["facts"]["worker"] == result.info["worker"]
    assert "did not finish (its worker went away)" in Path(result.log_path).read_text()
    assert report["commit"] == farm.commit and report["unsigned"] is True
    assert report["facts"]["user"] == "relman-worker"
    # the files arrived and matched the report; changed on their way, they would not
    tgz = incoming / f"Python-{VERSION}.tgz"
    data = bytearray(tgz.read_bytes())
    data[len(data) // 2] ^= 0xFF                   # one byte changed in transit
    tgz.write_bytes(bytes(data))
    (incoming / "extra.txt").write_text("slipped in\n")
    with pytest.raises(CheckFailed) as failed:
        check_arrival(incoming, report, farm.source(), VERSION, where="test")
    assert f"Python-{VERSION}.tgz: arrived with" in failed.value.message
    assert "extra.txt: arrived but the worker did not report it" in failed.value.message


def test_a_job_whose_only_worker_vanishes_fails_clearly_and_a_rerun_converges(farm: Farm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    fork_tag = {"build.fork-tag": farm.source().as_dict()}
    killed: list[str] = []
    watcher = farm.kill_mid_build(killed)
    try:
        ctx = farm.ctx("build.artifacts", release, fork_tag, queue_timeout=3.0)
        with pytest.raises(StepFailed) as failed:
            run_remote_build(ctx, release, farm.source(), "build-release-files", worker="w1")
    finally:
        watcher.join()
        farm.revive(killed)
    assert killed == ["w1"]
    assert "went away mid-build and no other worker of 'relman-w1' took the job within 3 s" in failed.value.message
    time.sleep(1.0)
    assert not (farm.bb.release.local.get("/buildrequests?complete=false") or {}).get("buildrequests"), \
        "the lost job's request was cancelled, not left to run later"
    # the machine is back: running the step again builds, checks and signs
    built = build_artifacts_remote(farm.ctx("build.artifacts", release, fork_tag))
    assert built["commit"] == farm.commit and list(release.artifacts_dir.glob("*.asc"))
    # built by the worker's own user: isolated, and `relman show` does not say otherwise
    [who] = built["workers"]
    assert who["user"] == "relman-worker" and who["same_user"] is False
    assert "NOT isolated" not in worker_lines(built)[0]


DIFFERENT_XZ = """
import os, shutil, sys, subprocess
if os.environ.get("RELMAN_WORKER") == "w1":      # this worker's xz compresses differently
    shim = os.path.abspath("shim")
    os.makedirs(shim, exist_ok=True)
    real = shutil.which("xz")
    with open(os.path.join(shim, "xz"), "w") as f:
        f.write(f'#!/bin/sh\\nexec {real} "$@" -1\\n')
    os.chmod(os.path.join(shim, "xz"), 0o755)
    os.environ["PATH"] = shim + os.pathsep + os.environ["PATH"]
sys.exit(subprocess.call(["relman", *sys.argv[1:]]))
"""


def test_the_reproducibility_gate_across_two_workers_stops_on_a_difference(farm: Farm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work", reproducible_on="worker")
    fork_tag = {"build.fork-tag": farm.source().as_dict()}
    resources = {"worker_command": ["python3", "-c", DIFFERENT_XZ]}
    built = build_artifacts_remote(farm.ctx("build.artifacts", release, fork_tag, **resources))
    assert list(release.artifacts_dir.glob("*.asc")), "signed at home"
    first = built["workers"][0]["worker"]
    with pytest.raises(CheckFailed) as failed:
        check_reproducible_remote(farm.ctx("build.reproducible", release, {**fork_tag, "build.artifacts": built},
                                           **resources))
    message = failed.value.message
    assert message.startswith(f"not reproducible: the build on worker {first} and the build on worker "
                              f"{'w2' if first == 'w1' else 'w1'} differ in")
    assert f"Python-{VERSION}.tar.xz" in message and f"Python-{VERSION}.tgz," not in message
    shutil.rmtree(release.work_dir)
