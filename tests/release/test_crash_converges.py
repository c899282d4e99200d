"""A crash anywhere converges (issue 8 point 9).

The demo is SIGKILLed at every step boundary (each step's end, and the start of each step that
acts or probes — a read-only check killed as it starts leaves nothing new to find), and
inside the long or delicate operations: while a build job runs (it outlives relman), inside
`git commit` and `git checkout` (git is killed too and leaves its lock and a half-switched
tree), and while a remote receives a push. Each kill is followed by a resume that goes on to
the next point; every run must end with one release: done, one tag, no ref pushed twice, the
journal's chain intact, `relman verify` passing, no process left behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git

from relman.demo.rehearsal import prepare
from relman.engine.journal import Journal
from relman.release.workflow import release_plan

DRIVER = Path(__file__).with_name("crash_driver.py")
VERSION = "3.14.0rc1"
pytestmark = pytest.mark.slow

INSIDE = ["job:build-release-files", "commit:source.release-commit", "push:source.push-fork",
          "job:test-source", "checkout:post.merge-back", "commit:post.dev-bump", "push:post.push-upstream"]



def applicable_steps(*, acting: bool = False) -> list[str]:
    """The steps a demo release runs; with `acting`, only those that change something or probe
    for their work (where a kill right after "started" leaves something to find out)."""
    plan = release_plan({"version": VERSION, "profile": "demo"})
    return [sid for sid, step in plan.steps.items() if sid not in plan.skipped
            and (not acting or step.effects or step.probe is not None)]


def arm_traps(root: Path) -> None:
    """Hooks and a filter that kill relman (and git) when the driver arms them; else no-ops."""
    armed = root / "armed"
    kill_both = f'[ "$(cat {armed} 2>/dev/null)" = {{kind}} ] && {{{{ rm -f {armed}; kill -9 $CRASH_PID; {{extra}} }}}}\n'
    repo = root / "cpython"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\n" + kill_both.format(kind="commit", extra="kill -9 $PPID;") + "exit 0\n")
    smudge = root / "smudge-crash"
    smudge.write_text("#!/bin/sh\n" + kill_both.format(kind="checkout", extra="kill -9 $PPID; exit 1;") + "exec cat\n")
    for path in (hook, smudge):
        path.chmod(0o755)
    git(repo, "config", "filter.crash.smudge", str(smudge))
    for remote in ("fork.git", "upstream.git"):
        hooks = root / remote / "hooks"
        (hooks / "pre-receive").write_text("#!/bin/sh\n" + kill_both.format(kind="push", extra="") + "exit 0\n")
        (hooks / "post-receive").write_text(f"#!/bin/sh\ncat >> {root / (remote + '-pushes.log')}\n")
        for name in ("pre-receive", "post-receive"):
            (hooks / name).chmod(0o755)


@pytest.mark.parametrize("where", ["boundaries", "inside"])
def test_killed_anywhere_the_release_converges(tmp_path, where):
    root = tmp_path / "demo"
    prepare(root, VERSION, False)
    arm_traps(root)
    # every step's end (journaled done) and the start of every step that acts or probes
    boundaries = [f"{sid}:start" for sid in applicable_steps(acting=True)] + [
        f"{sid}:end" for sid in applicable_steps()]
    points = boundaries if where == "boundaries" else INSIDE
    points_file, visited_file = tmp_path / "points.json", tmp_path / "visited"
    points_file.write_text(json.dumps(points))

    kills, final = 0, None
    for _ in range(len(points) + 2):
        proc = subprocess.run([sys.executable, str(DRIVER), str(root), str(points_file), str(visited_file)],
                              capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            continue
        last = visited_file.read_text().split()[-1:] if visited_file.exists() else []
        assert proc.returncode == 0, f"after a kill at {last}:\n{proc.stdout}{proc.stderr}"
        final = json.loads(proc.stdout.strip().splitlines()[-1])
        break
    visited = visited_file.read_text().split() if visited_file.exists() else []
    assert sorted(visited) == sorted(points), "every point was reached and killed at"
    assert kills == len(points)
    assert final is not None and final["status"] == "done"

    repo, fork, upstream = root / "cpython", root / "fork.git", root / "upstream.git"
    journal = Journal(root / "state" / "relman.db")
    assert len(journal.runs()) == 1, "every crash resumed the same run"
    run_id = final["run_id"]
    assert journal.verify_chain(run_id) == []
    assert all(row.status in ("done", "skipped") for row in journal.steps(run_id).values())

    tag = f"v{VERSION}"
    assert git(repo, "tag", "--list", tag) == tag
    assert git(fork, "rev-parse", tag) == git(upstream, "rev-parse", tag) == git(repo, "rev-parse", tag)
    assert git(upstream, "log", "-1", "--format=%s", "3.14") == f"Post {VERSION}"
    assert git(repo, "status", "--porcelain") == "" and not list((repo / ".git").glob("*.lock"))
    for remote in ("fork.git", "upstream.git"):
        log = root / (remote + "-pushes.log")
        updates = [line.split()[2] for line in log.read_text().splitlines()] if log.exists() else []
        assert len(updates) == len(set(updates)), f"a ref was pushed twice to {remote}: {updates}"
        assert f"refs/tags/{tag}" in updates

    verify = subprocess.run([sys.executable, "-m", "relman.cli.main", "verify", str(root / "work" / "artifacts"),
                             "--gnupghome", str(root / "gnupg"), "--fingerprint",
                             (root / "gnupg" / "demo-key.fingerprint").read_text().strip()],
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    survivors = subprocess.run(["pgrep", "-f", str(root / "work")], capture_output=True, text=True, check=False).stdout.split()
    assert survivors == [], "a build job outlived the runs"

    # Every artifact equals what an uninterrupted build of the same tag gives, byte for byte.
    clean = tmp_path / "uninterrupted"
    rebuilt = subprocess.run([sys.executable, "-m", "relman.cli.main", "artifacts", "build", VERSION, "--repo",
                              str(repo), "-o", str(clean), "--profile", "demo"], capture_output=True, text=True,
                             timeout=300, check=False)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    built = json.loads(next((root / "work" / "artifacts").glob("*.manifest.json")).read_text())
    again = json.loads(next(clean.glob("*.manifest.json")).read_text())
    ours = {f["name"]: f["sha256"] for f in built["files"] if f.get("producer") in ("source", "docs")}
    theirs = {f["name"]: f["sha256"] for f in again["files"] if f["name"] in ours}
    assert ours and ours == theirs, "a resumed build gave other bytes than an uninterrupted one"
    # No external effect twice: each release file registered once on the downloads site, each
    # live post made once.
    import sqlite3
    with sqlite3.connect(root / "site" / "downloads.db") as site:
        slugs = [row[0] for row in site.execute("SELECT slug FROM release_file")]
        releases = site.execute("SELECT COUNT(*) FROM release").fetchone()[0]
    assert releases == 1 and slugs and len(slugs) == len(set(slugs)), slugs
    posts = [json.loads(line)["milestone"] for line in (root / "live-feed.jsonl").read_text().splitlines()]
    assert len(posts) == len(set(posts)), f"a live post was made twice: {posts}"
    report = Path("build/test-artifacts")
    report.mkdir(parents=True, exist_ok=True)
    (report / f"crash-{where}.json").write_text(json.dumps(
        {"kill_points": len(points), "survived": kills, "registered_files": len(slugs), "live_posts": len(posts)}))
    print(f"kill points survived ({where}): {kills} of {len(points)}")

    kinds = {e["kind"] for e in journal.events(run_id)}
    if where == "inside":
        assert {"build-job-stopped", "git-stale-lock-cleared", "git-half-done-undone"} <= kinds, kinds
    subprocess.run(["gpgconf", "--homedir", str(root / "gnupg"), "--kill", "gpg-agent"], capture_output=True, check=False)
