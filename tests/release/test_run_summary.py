"""A real run ends like the demo: what was done, where the diary is, what is left and what next."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .test_generic_profile import make_package


def relman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_a_paused_then_finished_run_says_what_was_done_and_what_comes_next(tmp_path):
    repo = make_package(tmp_path)
    state = tmp_path / "st"
    paused = relman("run", "1.4.0", "--repo", str(repo), "--state", str(state), "--no-input")
    assert paused.returncode == 3, paused.stdout + paused.stderr
    out = paused.stdout
    assert re.search(r"^1\.4\.0: paused \(run 1; \d+ done, \d+ skipped, 1 waiting for approval", out, re.M), out
    assert "waiting:   source.push-fork needs approval of gate push-fork" in out
    assert f"next:      relman run 1.4.0 --repo {repo} --state {state} --approve push-fork" in out
    assert f"journal:   {state / 'relman.db'}" in out

    done = relman("run", "1.4.0", "--repo", str(repo), "--state", str(state), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^1\.4\.0: released \(run 1; \d+ done", out, re.M), out
    assert "tag:       v1.4.0" in out and "pushed:    " in out
    diary = Path(re.search(r"^diary:     (\S+)$", out, re.M)[1])
    assert diary.is_file() and diary.read_text().startswith("# Release diary: 1.4.0")
    assert f"next:      relman show 1 --state {state}" in out


def test_a_failed_run_names_the_step_and_the_command_that_resumes(tmp_path):
    repo = make_package(tmp_path)
    (repo / "stray.txt").write_text("uncommitted\n")
    state = tmp_path / "st"
    failed = relman("run", "1.4.0", "--repo", str(repo), "--state", str(state), "--no-input")
    assert failed.returncode == 1
    out = failed.stdout
    assert "1.4.0: stopped" in out and "failed:    preflight.clean: " in out and "1 uncommitted change" in out
    assert "left:      fix what failed, then run the same command again" in out
    assert f"next:      relman run 1.4.0 --repo {repo} --state {state}" in out
