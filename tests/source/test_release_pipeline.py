"""The release commit as run_release.py makes it, through `relman run` on the sample project.

- the pydoc-topics and configure regenerations run (with the sample's own commands) and their
  output is in the tagged commit;
- a clone without any tags releases from what Include/patchlevel.h says;
- a failing regeneration command stops the run before the tag, with the tail of its output;
- a missing container runtime (or any regeneration tool) is reported by preflight before anything
  changes;
- an unknown release-schedule PEP stops the release commit before anything is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relman.config import Settings
from relman.demo.sample import create_sample_project
from relman.version import Version

pytestmark = pytest.mark.slow


def relman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ})


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def run(sample, version: str, config: str = "", *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    path = sample.root / "relman.toml"
    path.write_text(config + "\n[signing]\nallow_unsigned = true\n")
    proc = relman("run", version, "--repo", str(sample.repo), "--config", str(path), "--state",
                  str(sample.root / "state"), "--no-input", "--yes", "--json", *extra)
    return proc, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


def statuses(doc: dict) -> dict[str, str]:
    steps = doc["steps"]
    return {s["id"]: s["status"] for s in steps} if isinstance(steps, list) else dict(steps)


def assert_released(proc, doc) -> None:
    """Every step up to publishing is done or skipped. (announce.send is another area's step: on main it
    currently refuses when no publishing target is configured, which these runs do not configure.)"""
    assert doc, proc.stdout + proc.stderr
    unfinished = {sid: st for sid, st in statuses(doc).items()
                  if st not in ("done", "skipped") and not sid.startswith("announce.")}
    assert not unfinished, (unfinished, proc.stdout[-2000:], proc.stderr[-2000:])


def step_outputs(sample, run_id: int) -> dict[str, dict]:
    shown = json.loads(relman("show", str(run_id), "--json", "--state", str(sample.root / "state")).stdout)
    return {s["id"]: s for s in shown["steps"]}


def regenerated(repo: Path, ref: str, tmp: Path) -> dict[str, str]:
    """Check out `ref` elsewhere, run the sample's own scripts there, and return what they produce."""
    work = tmp / "check"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(work), ref], cwd=repo, check=True)
    subprocess.run([sys.executable, "Tools/build/regen_topics.py"], cwd=work, check=True)
    subprocess.run(["sh", "Tools/build/regen-configure.sh"], cwd=work, check=True)
    return {"configure": (work / "configure").read_text(),
            "topics": (work / "Doc/build/pydoc-topics/topics.py").read_text()}


def test_release_from_a_clone_without_tags_runs_both_regenerations(tmp_path):
    sample = create_sample_project(tmp_path / "sample", Version.parse("3.14.0rc1"))
    for tag in git(sample.repo, "tag").split():
        git(sample.repo, "tag", "-d", tag)
    stale = git(sample.repo, "show", "HEAD:configure")
    proc, doc = run(sample, "3.14.0rc1", "[remotes]\nfork = \"origin\"\nupstream = \"upstream\"\n")
    assert_released(proc, doc)
    assert statuses(doc)["source.regen-pydoc"] == "done" and statuses(doc)["source.regen-configure"] == "done"
    steps = step_outputs(sample, doc["run_id"])
    transition = steps["preflight.transition"]["outputs"]
    assert transition["source"] == "tree" and transition["tree"]["raw"] == "3.14.0b1+"
    assert transition["existing_release_tags"] == 0
    pydoc = steps["source.regen-pydoc"]["outputs"]
    configure = steps["source.regen-configure"]["outputs"]
    assert pydoc["commands"] == [["python3", "Tools/build/regen_topics.py"]]
    assert pydoc["changed"] == ["Lib/pydoc_data/topics.py"] and configure["changed"] == ["configure"]
    # The tag is the release commit with both regenerations in it, and nothing is left to regenerate.
    tag_commit = git(sample.repo, "rev-parse", "v3.14.0rc1^{commit}")
    assert tag_commit == configure["commit"]
    assert git(sample.repo, "log", "-1", "--format=%s", tag_commit) == "Python 3.14.0rc1"
    assert git(sample.repo, "rev-list", "--count", f"{tag_commit}^..{tag_commit}") == "1"
    fresh = regenerated(sample.repo, "v3.14.0rc1", tmp_path)
    assert git(sample.repo, "show", "v3.14.0rc1:configure") + "\n" == fresh["configure"] != stale + "\n"
    assert "check_func sample_feature_99" in fresh["configure"]
    topics = git(sample.repo, "show", "v3.14.0rc1:Lib/pydoc_data/topics.py") + "\n"
    assert topics == fresh["topics"] and "versionadded:: 3.14" in topics and "next" not in topics


def test_a_failing_regeneration_stops_before_the_tag_with_the_output_tail(tmp_path):
    sample = create_sample_project(tmp_path / "sample", Version.parse("3.14.0rc1"))
    failing = ('[regen.configure]\ncommands = [["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; '
               'echo autoreconf: cannot find macro >&2; exit 3"]]\nneeds_any = ["sh"]\n')
    proc, doc = run(sample, "3.14.0rc1", failing)
    assert proc.returncode == 1
    assert doc["failed"] == ["source.regen-configure"]
    error = step_outputs(sample, doc["run_id"])["source.regen-configure"]["error"]
    assert "exited 3" in error and "autoreconf: cannot find macro" in error and "line 5" in error
    assert git(sample.repo, "tag", "-l", "v3.14.0rc1") == ""
    # Fixed configuration: the same run resumes and converges on one release commit.
    proc, doc = run(sample, "3.14.0rc1", "", "--accept-changes")
    assert_released(proc, doc)
    assert git(sample.repo, "log", "-1", "--format=%s", "v3.14.0rc1") == "Python 3.14.0rc1"
    assert "check_func sample_feature_99" in git(sample.repo, "show", "v3.14.0rc1:configure")


def test_missing_regeneration_tool_fails_preflight_before_any_change(tmp_path):
    sample = create_sample_project(tmp_path / "sample", Version.parse("3.14.0rc1"))
    head = git(sample.repo, "rev-parse", "HEAD")
    proc, doc = run(sample, "3.14.0rc1", '[regen.configure]\ncommands = [["Tools/build/regen-configure.sh"]]\n'
                                         'needs_any = ["relman-no-such-podman", "relman-no-such-docker"]\n')
    assert proc.returncode == 1 and doc["failed"] == ["preflight.tools"]
    error = step_outputs(sample, doc["run_id"])["preflight.tools"]["error"]
    assert "relman-no-such-podman or relman-no-such-docker" in error and "configure regeneration" in error
    assert statuses(doc)["source.temp-branch"] == "pending"
    assert git(sample.repo, "rev-parse", "HEAD") == head and not git(sample.repo, "branch", "--list", "branch-*")


def test_unknown_pep_stops_the_release_commit_before_writing(tmp_path):
    sample = create_sample_project(tmp_path / "sample", Version.parse("3.14.0rc1"))
    readme = sample.repo / "README.rst"
    # The tree's README still links 3.13's schedule; the schedule data does not list 3.14.
    readme.write_text(readme.read_text().replace("for Python 3.14", "for Python 3.13"))
    git(sample.repo, "commit", "-qam", "README: older link")
    (sample.root / "release-cycle.json").write_text(json.dumps({"3.13": {"pep": 719, "status": "bugfix"}}))
    proc, doc = run(sample, "3.14.0rc1", f'[readiness]\ncycle = "{sample.root / "release-cycle.json"}"\n')
    assert proc.returncode == 1 and doc["failed"] == ["source.release-commit"], doc.get("failed")
    error = step_outputs(sample, doc["run_id"])["source.release-commit"]["error"]
    assert "PEP for Python 3.14 is not known" in error and "release_peps" in error
    assert git(sample.repo, "log", "-1", "--format=%s", "branch-3.14.0rc1") == "README: older link"
    assert git(sample.repo, "status", "--porcelain") == ""  # the news were not released either
    # The setting supplies it: the same run resumes and the README links PEP 745.
    proc, doc = run(sample, "3.14.0rc1", f'release_peps = {{ "3.14" = 745 }}\n[readiness]\n'
                                         f'cycle = "{sample.root / "release-cycle.json"}"\n', "--accept-changes")
    assert_released(proc, doc)
    assert "`PEP 745 <https://peps.python.org/pep-0745/>`__ for Python 3.14" in git(
        sample.repo, "show", "v3.14.0rc1:README.rst")


def test_cpython_regeneration_defaults_are_run_release_commands():
    settings = Settings()
    assert settings.regen.pydoc.commands == [["make", "venv"], ["make", "pydoc-topics"]]
    assert settings.regen.pydoc.cwd == "Doc"
    assert settings.regen.pydoc.copy_files == {"Doc/build/pydoc-topics/topics.py": "Lib/pydoc_data/topics.py",
                                               "Doc/build/pydoc-topics/module_docs.py":
                                                   "Lib/pydoc_data/module_docs.py"}
    assert settings.regen.configure.commands == [["Tools/build/regen-configure.sh"]]
    assert settings.regen.configure.needs_any == ["podman", "docker"]
