"""Release builds on Buildbot workers that run as the release manager's own user: the fallback.

Without root, `start_isolated_buildbot` cannot create or use the `relman-worker` account, so
it starts the workers as this user, with this relman, and says so: `isolated` is false and
`isolation` reads "same user as the release manager (NOT isolated: <why>)". CI runs as root,
where the isolated path is taken (tests/ci/test_remote_workers.py); here the fallback is
forced and a real release build runs on it:

- it falls back, says so in its label and in its log, and its workers really are this user;
- the release builds there: the files arrive and match the worker's report (a changed byte
  would not), the result and the report name the worker, and the worker's facts, which the
  journal keeps and `relman show` prints, name this user, not relman-worker;
- the step signs here and the signed folder verifies with the demo's key.

The isolation label itself is not journaled: `relman demo` prints it ("demo: build workers:
…") and puts it in its JSON summary ("workers"); a run's journal and `relman show` say who
built through the worker's user instead, which is what is asserted here.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from buildbot_fixture import require_buildbot
from conftest import require_tool
from remote_farm import TAG, VERSION, Farm, buildbot_settings, released_demo

from relman.artifacts.checksums import sha256_file
from relman.artifacts.verify import Trust, verify_folder
from relman.ci import buildbot_isolated
from relman.ci.buildbot_isolated import WORKER_USER, ensure_worker_user, start_isolated_buildbot
from relman.demo.rehearsal import buildbot_resources
from relman.demo.signing import stop_demo_agent
from relman.errors import CheckFailed, UsageError
from relman.release.remote_build import build_artifacts_remote, check_arrival, run_remote_build, worker_lines

pytestmark = pytest.mark.slow

NOT_ROOT_UID = 1000
NEEDS_ROOT = f"creating or using the worker user {WORKER_USER!r} needs root"
FALLBACK_LABEL = f"same user as the release manager (NOT isolated: {NEEDS_ROOT})"


class _OsSeenWithoutRoot(ModuleType):
    """`os` as relman.ci.buildbot_isolated sees it: everything real except `geteuid`."""

    def __init__(self) -> None:
        super().__init__("os")

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def geteuid() -> int:
        return NOT_ROOT_UID


def this_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


class SameUserFarm(Farm):
    log: list[str]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SameUserFarm]:
    require_buildbot()
    require_tool("git")
    root = tmp_path_factory.mktemp("same-user-workers")
    demo = released_demo(root)
    log: list[str] = []
    # The only root-dependent decision on this path is `ensure_worker_user`'s `os.geteuid() != 0`
    # check (creating or using another account needs root); everything after it (the master, the
    # workers, git daemon, the builds) is real and runs as this process's real user. CI runs as
    # root, so that one check is made to see a non-root uid, in relman.ci.buildbot_isolated only
    # (not os itself: the rest of the process, and every subprocess, is untouched). On a machine
    # where the tests run without root the patch changes nothing.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(buildbot_isolated, "os", _OsSeenWithoutRoot())
        with pytest.raises(UsageError, match="needs root"):
            ensure_worker_user()
        try:
            with start_isolated_buildbot(root / "bb", 2, serve=[demo / "fork.git"], log=log.append) as bb:
                farm = SameUserFarm(root, bb, buildbot_settings(demo))
                farm.log = log
                yield farm
        finally:
            stop_demo_agent(demo)     # signing here started the demo keyring's gpg-agent again


def test_without_root_the_workers_run_as_this_user_and_it_says_so(farm: SameUserFarm) -> None:
    bb = farm.bb
    assert not bb.isolated
    assert bb.account is None and bb.venv is None
    assert bb.isolation == FALLBACK_LABEL
    assert "NOT isolated" in bb.isolation and "needs root" in bb.isolation
    assert farm.log == [f"workers run as this user, not isolated: {NEEDS_ROOT}"]
    # the fork is still served over git://, as to isolated workers
    assert farm.source().url.startswith("git://127.0.0.1:") and farm.source().url.endswith("/fork.git")
    # the workers are real processes of this user, with their folders next to the master's
    local = bb.release.local
    assert local.worker_account is None and local.worker_venv is None
    for worker in bb.release.workers:
        pid = local.worker_pid(worker)
        assert pid is not None, f"worker {worker} is not running"
        status = Path(f"/proc/{pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid) == os.getuid()
        assert local.worker_dir(worker).parent == farm.root.resolve() / "bb"
    # the demo's own choice for such workers: they run this relman, not a `relman` on their PATH
    resources = buildbot_resources(farm.root / "demo", bb)
    assert resources["worker_command"] == [str(Path(sys.executable).with_name("relman"))]
    assert Path(resources["worker_command"][0]).is_file()
    assert resources["worker_fork_url"] == farm.source().url


def test_a_release_builds_on_same_user_workers_and_the_files_arrive_intact(farm: SameUserFarm,
                                                                          tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    source = farm.source()
    resources = buildbot_resources(farm.root / "demo", farm.bb)
    ctx = farm.ctx("build.artifacts", release, {"build.fork-tag": source.as_dict()}, **resources)
    incoming, report, result = run_remote_build(ctx, release, source, "build-release-files")
    assert result.ok, result.error
    # which worker built it: the job result and the worker's own report agree
    assert result.info["worker"] in farm.bb.release.workers
    assert report["facts"]["worker"] == result.info["worker"]
    assert report["facts"]["user"] == this_user() != WORKER_USER
    assert report["commit"] == farm.commit and report["tag"] == TAG and report["version"] == VERSION
    assert report["unsigned"] is True
    # every reported file arrived, nothing else did, with the reported size and SHA-256
    reported = {f["name"]: f for f in report["files"]}
    arrived = {p.relative_to(incoming).as_posix(): p for p in incoming.rglob("*") if p.is_file()}
    assert f"Python-{VERSION}.tgz" in reported and f"Python-{VERSION}.tar.xz" in reported
    assert set(arrived) == set(reported)
    for name, path in arrived.items():
        assert sha256_file(path) == (reported[name]["sha256"], reported[name]["size"]), name
    # ...checked by the same code that guards signing: one byte changed on the way is caught
    check_arrival(incoming, report, source, VERSION, where="test")
    tgz = incoming / f"Python-{VERSION}.tgz"
    data = bytearray(tgz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tgz.write_bytes(bytes(data))
    with pytest.raises(CheckFailed) as failed:
        check_arrival(incoming, report, source, VERSION, where="test")
    assert f"Python-{VERSION}.tgz: arrived with" in failed.value.message


def test_the_build_step_signs_here_and_records_this_user_as_the_builder(farm: SameUserFarm, tmp_path: Path) -> None:
    release = farm.release(tmp_path / "work")
    source = farm.source()
    resources = buildbot_resources(farm.root / "demo", farm.bb)
    built = build_artifacts_remote(farm.ctx("build.artifacts", release, {"build.fork-tag": source.as_dict()},
                                            **resources))
    assert built["commit"] == farm.commit and built["unsigned"] is False
    assert built["fork"] == source.as_dict()
    # the step's output is what the journal keeps; `relman show` prints it with worker_lines
    [who] = built["workers"]
    assert who["worker"] in farm.bb.release.workers
    assert who["user"] == this_user() != WORKER_USER
    assert who["build_url"].startswith(farm.bb.url) and Path(who["log"]).is_file()
    [shown] = worker_lines(built)
    assert shown.startswith(f"build-release-files: worker {who['worker']} ({this_user()}@")
    assert f"({WORKER_USER}@" not in shown
    assert who["same_user"] is True and "same user as the release manager, NOT isolated" in shown
    # signed here with the demo's key, and the signed folder verifies against it
    demo = farm.root / "demo"
    fingerprint = (demo / "gnupg" / "demo-key.fingerprint").read_text().strip()
    assert list(release.artifacts_dir.glob("*.asc"))
    trust = Trust.pinned(gnupghome=demo / "gnupg", fingerprints=[fingerprint])
    verified = verify_folder(Path(built["manifest"]), trust=trust)
    assert verified.ok, [(p.file, p.message) for p in verified.problems]
    assert {f["name"] for f in built["files"]} >= {f"Python-{VERSION}.tgz", f"Python-{VERSION}.tar.xz"}
