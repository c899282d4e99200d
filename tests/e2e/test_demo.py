"""`relman demo` end to end: whole rehearsals, resumed rehearsals, beta 1 and rc2 shapes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from relman.engine.journal import Journal

pytestmark = pytest.mark.slow
KEYS = {"run_id", "version", "status", "state_db", "artifacts_dir", "downloads_dir", "site_dir", "report", "steps",
        "wall_s"}


def relman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"relman {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def demo(directory: Path, *extra: str) -> dict:
    out = relman("demo", "--dir", str(directory), "--json", *extra)
    return json.loads(out.stdout)


def test_demo_twice_in_fresh_directories(tmp_path):
    for name in ("first", "second"):
        root = tmp_path / name
        summary = demo(root)
        assert KEYS <= set(summary)
        assert summary["status"] == "done" and summary["version"] == "3.14.0rc1"
        assert all(step["status"] in ("done", "skipped") for step in summary["steps"])
        upstream, fork = root / "upstream.git", root / "fork.git"
        tag_commit = git(upstream, "rev-parse", "v3.14.0rc1^{commit}")
        assert git(fork, "rev-parse", "v3.14.0rc1^{commit}") == tag_commit
        assert git(upstream, "log", "-1", "--format=%s", "3.14") == "Post 3.14.0rc1"
        assert git(upstream, "log", "-1", "--format=%s", tag_commit) == "Python 3.14.0rc1"
        news = git(upstream, "show", "v3.14.0rc1:Misc/NEWS.d/3.14.0rc1.rst")
        assert ".. release date:" in news and ".. gh-issue:" in news
        assert git(upstream, "ls-tree", "-r", "--name-only", "v3.14.0rc1", "Misc/NEWS.d/next").count(".rst") == 0
        readme = git(upstream, "show", "3.14:README.rst").splitlines()[0]
        assert readme == "This is Python version 3.14.0 release candidate 1+"
        assert "versionadded:: next" not in git(upstream, "show", "v3.14.0rc1:Doc/library/sample.rst")
        diary = Path(summary["report"]).read_text()
        assert diary.startswith("# Release diary: 3.14.0rc1")
        assert "## Artifacts" in diary and "`Python-3.14.0rc1.tar.xz`" in diary and "Signed: yes." in diary
        artifacts = Path(summary["artifacts_dir"])
        names = {p.name for p in artifacts.iterdir()}
        assert {"Python-3.14.0rc1.tgz", "Python-3.14.0rc1.tar.xz", "Python-3.14.0rc1.tgz.spdx.json", "SHA256SUMS",
                "3.14.0rc1.manifest.json", "3.14.0rc1.manifest.json.asc", "python-3.14.0rc1-docs-html.zip"} <= names
        keyring = ["--gnupghome", str(root / "gnupg"), "--fingerprint",
                   (root / "gnupg" / "demo-key.fingerprint").read_text().strip()]
        unpinned = relman("verify", str(artifacts), "--gnupghome", str(root / "gnupg"), check=False)
        assert unpinned.returncode == 1 and "no key is pinned" in unpinned.stdout
        assert relman("verify", str(artifacts), *keyring).returncode == 0
        tarball = artifacts / "Python-3.14.0rc1.tar.xz"
        data = bytearray(tarball.read_bytes())
        data[len(data) // 2] ^= 1
        tarball.write_bytes(bytes(data))
        tampered = relman("verify", str(artifacts), *keyring, check=False)
        assert tampered.returncode == 1 and "Python-3.14.0rc1.tar.xz" in tampered.stdout + tampered.stderr
        journal = Journal(Path(summary["state_db"]))
        approvals = journal.approvals(summary["run_id"])
        assert {a["how"] for a in approvals.values()} == {"policy"}
        assert journal.verify_chain(summary["run_id"]) == []
    again = demo(tmp_path / "first")
    assert again["already_finished"] and again["run_id"] == 1


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from relman.demo.rehearsal import prepare, run_demo
    from relman.engine.runner import Observer

    root = Path(sys.argv[1])
    prepare(root, None, False)
    hook = root / "fork.git" / "hooks" / "post-receive"
    hook.write_text("#!/bin/sh\\ncat >> %s\\n" % (root / "fork-pushes.log"))
    hook.chmod(0o755)

    class KillAfterTag(Observer):
        def step_status(self, step_id, status, info=""):
            if step_id == "source.tag" and status == "done":
                print(Path(root / "cpython").exists(), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    run_demo(root, observer=KillAfterTag())
""")


def test_demo_killed_between_tag_and_push_resumes_and_pushes_once(tmp_path):
    root = tmp_path / "demo"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(root)], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    repo = root / "cpython"
    tag_object = git(repo, "rev-parse", "v3.14.0rc1")
    assert not (root / "fork-pushes.log").exists(), "nothing was pushed before the kill"

    summary = demo(root)
    assert summary["status"] == "done" and summary["run_id"] == 1
    journal = Journal(Path(summary["state_db"]))
    assert len(journal.runs()) == 1, "the rehearsal resumed; it did not start over"
    assert git(repo, "rev-parse", "v3.14.0rc1") == tag_object, "the tag is the same"
    pushes = (root / "fork-pushes.log").read_text().splitlines()
    tag_pushes = [line for line in pushes if line.endswith("refs/tags/v3.14.0rc1")]
    assert len(tag_pushes) == 1 and tag_pushes[0].split()[1] == tag_object
    tag_attempts = journal.attempts(1, "source.tag")
    assert [a["outcome"] for a in tag_attempts] == ["done"], "the tag step is not run again"


def test_interrupted_sample_creation_starts_again(tmp_path):
    root = tmp_path / "demo"
    root.mkdir()
    (root / "relman-demo.json.partial").write_text("3.14.0rc1\n")
    (root / "leftover").write_text("half-made sample")
    assert demo(root)["status"] == "done"


def test_beta1_creates_the_branch_and_bumps_main(tmp_path):
    summary = demo(tmp_path / "b1", "--version", "3.15.0b1")
    assert summary["status"] == "done"
    upstream = tmp_path / "b1" / "upstream.git"
    assert git(upstream, "log", "-1", "--format=%s", "3.15") == "Post 3.15.0b1"
    assert '"3.15.0b1+dev"' in git(upstream, "show", "3.15:Include/patchlevel.h")
    assert git(upstream, "log", "-1", "--format=%s", "main") == "Python 3.16.0a0"
    main_patchlevel = git(upstream, "show", "main:Include/patchlevel.h")
    assert '"3.16.0a0"' in main_patchlevel and "PY_RELEASE_LEVEL_ALPHA" in main_patchlevel
    assert "3.16" in git(upstream, "show", "main:Doc/whatsnew/index.rst")
    git(upstream, "cat-file", "-e", "main:Doc/whatsnew/3.16.rst")
    assert git(upstream, "merge-base", "--is-ancestor", "v3.15.0b1", "main") == ""


def test_rc2_is_released_from_the_maintenance_branch(tmp_path):
    summary = demo(tmp_path / "rc2", "--version", "3.14.0rc2")
    assert summary["status"] == "done"
    upstream = tmp_path / "rc2" / "upstream.git"
    tag = git(upstream, "rev-parse", "v3.14.0rc2^{commit}")
    assert subprocess.run(["git", "merge-base", "--is-ancestor", tag, "3.14"], cwd=upstream).returncode == 0
    assert subprocess.run(["git", "merge-base", "--is-ancestor", tag, "main"], cwd=upstream).returncode == 1
    assert {s["id"]: s["status"] for s in summary["steps"]}["post.new-branch"] == "skipped"


def test_demo_on_isolated_buildbot_workers(tmp_path):
    """The demo's Buildbot workers share nothing with the release manager: another user with its
    own HOME and venv, the fork over git://, the RM's checkout, journal and keyring unreadable;
    the release still builds there, arrives, is signed here and verifies."""
    import os

    from conftest import REQUIRE_ALL, require_tool

    from relman.ci.buildbot_isolated import (
        WORKER_USER,
        ensure_worker_user,
        worker_can_read,
    )

    require_tool("buildbot", str(Path(sys.executable).with_name("buildbot")))
    if os.geteuid() != 0:
        if REQUIRE_ALL:
            pytest.fail("isolated demo workers need root, and RELMAN_REQUIRE_ALL=1")
        pytest.skip("isolated demo workers need root")
    root = tmp_path / "bb"
    summary = demo(root, "--executor", "buildbot")
    assert summary["status"] == "done" and summary["executor"] == "buildbot"
    assert summary["workers"].startswith(f"separate user {WORKER_USER} ")
    account = ensure_worker_user()
    for private in (root / "cpython", root / "cpython" / ".git" / "config", root / "state" / "relman.db",
                    root / "gnupg"):
        assert private.exists() and not worker_can_read(account, private), private
    journal = Journal(Path(summary["state_db"]))
    steps = journal.steps(summary["run_id"])
    fork = steps["build.fork-tag"].outputs
    assert fork["url"].startswith("git://127.0.0.1:") and fork["tag"] == "v3.14.0rc1"
    built = steps["build.artifacts"].outputs
    [who] = built["workers"]
    assert who["user"] == WORKER_USER and who["worker"] in ("w1", "w2") and who["relman"] and who["python"]
    assert who["build_url"].startswith("http://127.0.0.1:") and Path(who["log"]).is_file()
    assert built["unsigned"] is False
    gate = steps["build.reproducible"].outputs
    assert gate["first"] == who["worker"] and gate["second"]["worker"] not in (who["worker"], None)
    assert "Python-3.14.0rc1.tar.xz" in gate["identical"]
    assert steps["build.test-source"].outputs["workers"][0]["user"] == WORKER_USER
    # The master's CI builders (tagged like CPython's: 3.14, stable, tier-N) built the branch from
    # the fork and ran its tests on the workers: the builds the dashboard's verdict reads.
    for log in ("ci-0.log", "ci-1.log"):
        text = (root / "work" / "ci-logs" / log).read_text()
        assert "make -C src test" in text and "Ran 1 test" in text, log
    artifacts = tmp_path / "bb" / "work" / "artifacts"
    assert (artifacts / "Python-3.14.0rc1.tar.xz.asc").is_file()
    drop = list((root / "buildbot" / "drop").rglob("Python-3.14.0rc1.tar.xz"))
    assert drop and not list((root / "buildbot" / "drop").rglob("*.asc")), "the workers built unsigned"
    log = Path(who["log"]).read_text()
    assert f"relman worker build 3.14.0rc1 --url {fork['url']}" in log and "--gpg-key" not in log
    shown = relman("show", str(summary["run_id"]), "--state", str(root / "state")).stdout
    assert f"build-release-files: worker {who['worker']} ({WORKER_USER}@" in shown
    verified = relman("verify", str(artifacts), "--gnupghome", str(root / "gnupg"), "--fingerprint",
                      (root / "gnupg" / "demo-key.fingerprint").read_text().strip(), "--json", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "bb" / "buildbot")], capture_output=True, text=True,
                              check=False)
    assert leftover.stdout.strip() == "", "the demo's master and workers are stopped"
    workers_left = subprocess.run(["pgrep", "-u", WORKER_USER], capture_output=True, text=True, check=False)
    assert workers_left.stdout.strip() == "", "no process of the worker user is left"
