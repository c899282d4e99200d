"""The release runner's readiness pre-flight uses the same policy as `relman status`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)
from relman.demo.sample import create_sample_project
from relman.engine.journal import Journal
from relman.version import Version


def relman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


def test_unreleasable_branch_pauses_the_release_and_the_verdict_is_journaled(cpython_like_master,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    sample = create_sample_project(tmp_path / "s", Version.parse("3.15.0a2"))
    config = tmp_path / "relman.toml"
    config.write_text(f'[readiness]\nbuildbot = "{cpython_like_master.url}"\n'
                      f'cycle = "{sample.root / "release-cycle.json"}"\n[signing]\nallow_unsigned = true\n')
    base = ["run", "3.15.0a2", "--repo", str(sample.repo), "--config", str(config), "--state", str(tmp_path / "st"),
            "--no-input", "--json"]
    paused = relman(*base)
    assert paused.returncode == 3, paused.stderr
    doc = json.loads(paused.stdout)
    assert {"step": "preflight.readiness", "gate": "readiness-unreleasable"} in doc["paused"]
    statuses = {s["id"]: s["status"] for s in doc["steps"]}
    assert statuses["source.temp-branch"] == "pending", "nothing is changed while the verdict blocks"

    done = relman(*base, "--approve", "readiness-unreleasable,push-fork,push-upstream")
    assert done.returncode == 0, done.stdout + done.stderr
    journal = Journal(tmp_path / "st" / "relman.db")
    seen = journal.steps(1)["preflight.readiness"].outputs["verdict"]
    assert seen["branch"] == "main" and seen["verdict"] == "Unreleasable"
    assert seen["featured_problem"]["description"] == "Tier-1 build failed"
    approval = journal.approvals(1)["readiness-unreleasable"]
    assert approval["how"] == "flag:--approve" and "Unreleasable" in approval["note"]
