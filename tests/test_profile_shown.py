"""Every command that works on a checkout says which profile it used (one detection rule)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from relman.cli.main import cli


def _package(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1.0.0"\n')
    (root / "src" / "pkg" / "__init__.py").write_text('__version__ = "1.0.0"\n')
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "1.0.0"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def test_plan_and_bump_name_the_profile(tmp_path: Path) -> None:
    repo = _package(tmp_path / "pkg")
    runner = CliRunner()
    plan = runner.invoke(cli, ["plan", "1.0.1", "--repo", str(repo), "--state", str(tmp_path / "state")])
    assert plan.exit_code == 0, plan.output
    assert "(profile generic," in plan.output
    as_json = runner.invoke(cli, ["plan", "1.0.1", "--repo", str(repo), "--state", str(tmp_path / "state"), "--json"])
    assert json.loads(as_json.output)["profile"] == "generic"
    bump = runner.invoke(cli, ["bump", "1.0.1", "--repo", str(repo), "--dry-run"])
    assert bump.exit_code == 0, bump.output
    assert "(profile generic)" in bump.output
