"""A real Buildbot master with real workers on 127.0.0.1, for any test that needs one.

    from buildbot_fixture import cpython_like_master, master_cfg

`master_cfg(builders, workers)` writes a CPython-flavoured master.cfg: builder names
"<platform> <branch>", tags [branch, stable|unstable, tier-N], branch tags "3.x" (main) and
"3.14"; factories that succeed, fail, warn, or exit with the `outcome` property; a
ForceScheduler "force" for every builder that accepts the properties `outcome` and `tag`.

Skips (or fails under RELMAN_REQUIRE_ALL=1) when buildbot is not installed.
"""

from __future__ import annotations

import atexit
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require_tool
from relman.ci.buildbot_local import LocalBuildbot, find_buildbot_binary


@dataclass(frozen=True)
class BuilderDef:
    name: str            # "AMD64 Ubuntu 3.14"
    worker: str
    factory: str         # ok | bad | warn | param
    tags: tuple[str, ...]


def master_cfg(builders: list[BuilderDef], workers: list[str]) -> str:
    defs = ",\n    ".join(repr((b.name, b.worker, b.factory, list(b.tags))) for b in builders)
    return textwrap.dedent("""\
        import os
        from buildbot.plugins import util, worker, schedulers, steps
        from buildbot.process.factory import BuildFactory

        WWW_PORT = int(os.environ["BB_WWW_PORT"])
        PB_PORT = int(os.environ["BB_PB_PORT"])
        c = BuildmasterConfig = {}
        c["buildbotNetUsageData"] = None
        c["title"] = "relman test master"
        c["buildbotURL"] = f"http://127.0.0.1:{WWW_PORT}/"
        c["db"] = {"db_url": "sqlite:///state.sqlite"}
        c["protocols"] = {"pb": {"port": f"tcp:{PB_PORT}:interface=127.0.0.1"}}
        c["workers"] = [worker.Worker(n, "pass") for n in %(workers)r]

        def factory(*cmds):
            f = BuildFactory()
            for name, cmd, kw in cmds:
                f.addStep(steps.ShellCommand(name=name, command=cmd, **kw))
            return f

        FACTORIES = {
            "ok": factory(("test", ["sh", "-c", "echo tests ok"], {})),
            "bad": factory(("test", ["false"], {})),
            "warn": factory(("test", ["false"], dict(flunkOnFailure=False, warnOnFailure=True))),
            "param": factory(("test", ["sh", "-c", util.Interpolate("echo tag=%%(prop:tag)s; exit %%(prop:outcome:-0)s")], {})),
        }
        DEFS = [
            %(defs)s
        ]
        c["builders"] = [util.BuilderConfig(name=n, workernames=[w], factory=FACTORIES[f], tags=t)
                         for n, w, f, t in DEFS]
        c["schedulers"] = [schedulers.ForceScheduler(
            name="force", builderNames=[d[0] for d in DEFS],
            properties=[util.StringParameter(name="outcome", default="0"),
                        util.StringParameter(name="tag", default="")])]
        c["www"] = {"port": f"tcp:{WWW_PORT}:interface=127.0.0.1", "plugins": {}}
        """) % {"workers": workers, "defs": defs}


def require_buildbot() -> None:
    require_tool("buildbot", find_buildbot_binary("buildbot"))
    require_tool("buildbot-worker", find_buildbot_binary("buildbot-worker"))


# The scenario the readiness tests assert on. Per branch tag:
#   Ubuntu (tier-1, stable)   succeeds
#   Fedora (tier-1, stable)   fails on 3.x, succeeds on 3.14
#   macOS  (tier-2, stable)   warns
#   RHEL   (tier-3, unstable) fails
#   AIX    (tier-2, stable)   its worker is never connected, no builds
#   Gentoo (tier-3, stable)   builds, then its worker goes away (disconnected, with recent build)
#   Windows (tier-1, stable, 3.x only) success, failure, failure: a failure streak
SCENARIO_WORKERS = ["w-ubuntu", "w-fedora", "w-macos", "w-gentoo"]
OFFLINE_WORKERS = ["w-aix"]


def scenario_builders() -> list[BuilderDef]:
    out = []
    for branch in ("3.x", "3.14"):
        out += [
            BuilderDef(f"AMD64 Ubuntu {branch}", "w-ubuntu", "ok", (branch, "stable", "tier-1")),
            BuilderDef(f"AMD64 Fedora {branch}", "w-fedora", "bad" if branch == "3.x" else "ok",
                       (branch, "stable", "tier-1")),
            BuilderDef(f"ARM64 macOS {branch}", "w-macos", "warn", (branch, "stable", "tier-2")),
            BuilderDef(f"s390x RHEL {branch}", "w-fedora", "bad", (branch, "unstable", "tier-3")),
            BuilderDef(f"PPC64 AIX {branch}", "w-aix", "ok", (branch, "stable", "tier-2")),
            BuilderDef(f"x86 Gentoo {branch}", "w-gentoo", "ok", (branch, "stable", "tier-3")),
        ]
    out.append(BuilderDef("AMD64 Windows11 3.x", "w-ubuntu", "param", ("3.x", "stable", "tier-1")))
    # No branch tag: tests may force builds here without changing any verdict.
    out.append(BuilderDef("Sandbox", "w-macos", "param", ("sandbox",)))
    return out


def start_scenario(basedir: Path) -> LocalBuildbot:
    builders = scenario_builders()
    bb = LocalBuildbot(basedir, master_cfg(builders, SCENARIO_WORKERS + OFFLINE_WORKERS),
                       workers=tuple(SCENARIO_WORKERS), offline_workers=tuple(OFFLINE_WORKERS))
    bb.start()
    try:
        bb.force([b.name for b in builders if b.worker != "w-aix" and b.factory != "param"])
        bb.wait_idle()
        for outcome in ("0", "1", "1"):   # Windows: success, then a failure streak of two
            bb.force(["AMD64 Windows11 3.x"], outcome=outcome)
            bb.wait_idle()
        bb.wait_idle()
        bb.stop_worker("w-gentoo")
        bb.wait_for(lambda: not any(w["connected_to"] for w in bb.get("/workers")["workers"]
                                    if w["name"] == "w-gentoo"), "w-gentoo to disconnect")
    except BaseException:
        bb.stop()
        raise
    return bb


_shared: LocalBuildbot | None = None


def shared_scenario_master(basedir: Path) -> LocalBuildbot:
    """One scenario master per test session, shared by every test module (stopped at exit)."""
    global _shared
    if _shared is None:
        _shared = start_scenario(basedir)
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture
def cpython_like_master(tmp_path_factory: pytest.TempPathFactory) -> LocalBuildbot:
    """The scenario above, on a real master with real workers (≈12 s, once per session).

    Tests must not change its builds; force builds on other builders of your own master.
    """
    require_buildbot()
    return shared_scenario_master(tmp_path_factory.getbasetemp() / "buildbot-scenario")
