"""Each pre-flight failure: its message and exit code, through `relman run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relman.demo.sample import create_sample_project
from relman.version import Version


def relman(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout.strip()


@pytest.fixture
def sample(tmp_path):
    return create_sample_project(tmp_path / "sample", Version.parse("3.14.0rc1"))


def rehearsal_config(sample) -> str:
    """No signing key in these tests: allow unsigned artifacts, as a rehearsal may."""
    path = sample.root / "relman.toml"
    path.write_text("[signing]\nallow_unsigned = true\n")
    return str(path)


def run(sample, version="3.14.0rc1", *extra):
    state = sample.root / "state"
    return relman("run", version, "--repo", str(sample.repo), "--config", rehearsal_config(sample), "--state",
                  str(state), "--no-input", "--json", *extra)


def failed_step(proc) -> tuple[str, str]:
    doc = json.loads(proc.stdout)
    (step,) = doc["failed"]
    journal_error = json.loads(relman("show", str(doc["run_id"]), "--json", "--state",
                                      str(Path(doc["state_db"]).parent)).stdout)
    error = next(s["error"] for s in journal_error["steps"] if s["id"] == step)
    return step, error


def test_dirty_tree(sample):
    (sample.repo / "Lib" / "sample.py").write_text("# edited\n")
    proc = run(sample)
    assert proc.returncode == 1
    step, error = failed_step(proc)
    assert step == "preflight.clean" and "uncommitted" in error and "Lib/sample.py" in error


def test_wrong_branch(sample):
    git(sample.repo, "checkout", "-q", "-b", "main", "upstream/main")
    proc = run(sample)
    assert proc.returncode == 1
    step, error = failed_step(proc)
    assert step == "preflight.branch" and "git checkout 3.14" in error


def test_version_that_goes_backwards(sample):
    proc = run(sample, "3.14.0a2")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert "preflight.transition" in doc["failed"]
    errors = {s["id"]: s["error"] for s in json.loads(relman("show", str(doc["run_id"]), "--json", "--state",
                                                             str(sample.root / "state")).stdout)["steps"]}
    assert "cannot follow 3.14.0b1" in errors["preflight.transition"]
    assert "3.14.0rc1" in errors["preflight.transition"]


def test_existing_tag(sample):
    """A local tag nobody pushed is in the way but is not a release; a tag upstream is."""
    git(sample.repo, "tag", "v3.14.0rc1")
    proc = run(sample)
    assert proc.returncode == 1
    step, error = failed_step(proc)
    assert step == "preflight.tag-free" and "exists only in this checkout" in error and "relman abort" in error
    git(sample.repo, "push", "-q", "upstream", "refs/tags/v3.14.0rc1")
    proc = run(sample, "3.14.0rc1", "--fresh")
    doc = json.loads(proc.stdout)
    assert {"preflight.tag-free", "preflight.transition"} <= set(doc["failed"])


def test_unreachable_remote(sample):
    git(sample.repo, "remote", "set-url", "origin", str(sample.root / "missing.git"))
    proc = run(sample)
    assert proc.returncode == 1
    step, error = failed_step(proc)
    assert step == "preflight.remotes" and "fork" in error and "missing.git" in error


def test_old_checkout_is_a_gate(sample):
    old = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(time.time() - 3 * 86400))
    git(sample.repo, "commit", "-q", "--allow-empty", "-m", "old work",
        env={"GIT_COMMITTER_DATE": old, "GIT_AUTHOR_DATE": old})
    proc = run(sample)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert {"step": "preflight.repo-age", "gate": "old-repo"} in doc["paused"]
    resumed = run(sample, "3.14.0rc1", "--approve", "old-repo,push-fork")
    assert json.loads(resumed.stdout)["paused"] == [{"step": "post.push-upstream", "gate": "push-upstream"}]


@pytest.mark.parametrize("version, code", [("3.14.0rc1", 1), ("3.14.0b2", 3)])
def test_magic_number_mismatch(tmp_path, version, code):
    sample = create_sample_project(tmp_path / "s", Version.parse(version))
    (sample.repo / "Lib/test/test_importlib/test_util.py").write_text("EXPECTED_MAGIC_NUMBER = 1\n")
    git(sample.repo, "commit", "-qam", "mismatch")
    proc = run(sample, version)
    assert proc.returncode == code
    doc = json.loads(proc.stdout)
    if code == 1:
        assert "preflight.magic-number" in doc["failed"]
    else:
        assert {"step": "preflight.magic-number", "gate": "magic-number"} in doc["paused"]


@pytest.mark.parametrize("args, message", [
    (["run", "3.14.0x", "--repo", "."], "not a release version"),
    (["run", "3.14.0rc1", "--repo", "/nonexistent/repo"], "no such repository"),
    (["plan", "3.14.0rc1", "--repo", "/"], "not a git repository"),
])
def test_bad_input_exits_2_without_traceback(args, message):
    proc = relman(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_config(sample):
    (sample.repo / "relman.toml").write_text("profile = [unclosed\n")
    proc = relman("plan", "3.14.0rc1", "--repo", str(sample.repo))
    assert proc.returncode == 2 and "relman.toml" in proc.stderr and "Traceback" not in proc.stderr
    (sample.repo / "relman.toml").write_text('profile = "cpython"\n[remotes]\nfrok = "x"\n')
    proc = relman("plan", "3.14.0rc1", "--repo", str(sample.repo))
    assert proc.returncode == 2 and "remotes.frok" in proc.stderr


def test_plan_shows_effects_and_gates_without_acting(sample):
    before = git(sample.repo, "rev-parse", "HEAD")
    proc = relman("plan", "3.14.0rc1", "--repo", str(sample.repo), "--json")
    assert proc.returncode == 0
    steps = {s["id"]: s for s in json.loads(proc.stdout)["steps"]}
    assert steps["post.push-upstream"]["irreversible"] and steps["post.push-upstream"]["gate"]["id"] == "push-upstream"
    assert steps["post.new-branch"]["applies"] is False
    assert git(sample.repo, "rev-parse", "HEAD") == before and git(sample.repo, "tag", "-l", "v3.14.0rc1") == ""


def test_buildbot_executor_needs_a_master(sample):
    proc = relman("run", "3.14.0rc1", "--repo", str(sample.repo), "--state", str(sample.root / "state"),
                  "--executor", "buildbot", "--no-input")
    assert proc.returncode == 2 and "buildbot_url" in proc.stderr and "Traceback" not in proc.stderr


def test_changed_inputs_on_resume_are_shown_and_refused(sample):
    first = run(sample)
    assert first.returncode == 3  # paused at push-fork
    changed = sample.root / "changed.toml"
    changed.write_text(f'[remotes]\nfork = "{sample.fork}"\n[signing]\nallow_unsigned = true\n')
    base = ["run", "3.14.0rc1", "--repo", str(sample.repo), "--config", str(changed), "--state",
            str(sample.root / "state"), "--no-input"]
    refused = relman(*base)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "inputs changed" in refused.stderr and "fork" in refused.stderr and "--accept-changes" in refused.stderr
    accepted = relman(*base, "--accept-changes", "--approve", "push-fork,push-upstream", "--json")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert json.loads(accepted.stdout)["run_id"] == json.loads(first.stdout)["run_id"]
    events = json.loads(relman("show", "1", "--json", "--state", str(sample.root / "state")).stdout)
    assert events["chain_ok"]
