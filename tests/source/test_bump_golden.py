"""Golden files: `relman bump` on a small CPython-shaped tree, for each kind of release.

Each scenario builds a tree at the version before, runs `relman bump ... --json` and compares
exactly: the JSON report (changed files, created files, notes) with golden/<name>/result.json,
every changed file with golden/<name>/files/<path>, and every other file with the tree as it was.

After an intended change of output, regenerate with RELMAN_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from cpython_tree import build_tree, snapshot

from relman.cli.main import cli

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("RELMAN_UPDATE_GOLDEN") == "1"

RELEASE_CYCLE = {"3.14": {"pep": 745, "status": "bugfix"}, "3.15": {"pep": 790, "status": "prerelease"},
                 "3.16": {"pep": 826, "status": "feature"}}

# name: (tree version, tree suffix, README PEP, bump arguments)
SCENARIOS = {
    "a0": ("3.15.0b1", "+dev", "790", ["3.16.0a0"]),
    "b1": ("3.15.0a7", "+dev", "790", ["3.15.0b1"]),
    "rc": ("3.15.0b3", "+dev", "790", ["3.15.0rc1"]),
    "final": ("3.15.0rc3", "+dev", "790", ["3.15.0"]),
    "bugfix": ("3.14.2", "+", "745", ["3.14.3"]),
    "done": ("3.15.0rc1", "", "790", ["3.15.0rc1", "--done"]),
    "done-pre315": ("3.14.3", "", "745", ["3.14.3", "--done"]),
}


def run_bump(repo: Path, args: list[str], release_cycle: Path | None) -> dict:
    extra = ["--release-cycle", str(release_cycle)] if release_cycle else []
    result = CliRunner().invoke(cli, ["bump", *args, "--repo", str(repo), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_bump_matches_golden(tmp_path: Path, name: str) -> None:
    version, suffix, pep, args = SCENARIOS[name]
    repo = build_tree(tmp_path / "repo", version, suffix, pep=pep)
    before = snapshot(repo)
    cycle = tmp_path / "release-cycle.json"
    cycle.write_text(json.dumps(RELEASE_CYCLE))

    report = run_bump(repo, args, cycle)
    after = snapshot(repo)
    result = {key: report[key] for key in ("version", "changed", "created", "notes")}

    golden = GOLDEN / name
    if UPDATE:
        if golden.exists():
            for old in sorted(golden.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
        for rel in report["changed"]:
            target = golden / "files" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(after[rel], encoding="utf-8")
        (golden / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    expected = json.loads((golden / "result.json").read_text(encoding="utf-8"))
    assert result == expected
    golden_files = sorted(p.relative_to(golden / "files").as_posix()
                          for p in (golden / "files").rglob("*") if p.is_file())
    assert golden_files == sorted(report["changed"])
    for rel in report["changed"]:
        assert after[rel] == (golden / "files" / rel).read_text(encoding="utf-8"), rel
    # Files outside the report are untouched, and nothing appeared or vanished unannounced.
    assert set(after) == set(before) | set(report["created"])
    for rel in set(before) - set(report["changed"]):
        assert after[rel] == before[rel], rel

    # Running the same bump again converges: nothing left to change.
    again = run_bump(repo, args, cycle if name != "a0" else None)
    assert again["changed"] == []
    assert snapshot(repo) == after


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    repo = build_tree(tmp_path / "repo", "3.15.0b3", "+dev")
    before = snapshot(repo)
    result = CliRunner().invoke(cli, ["bump", "3.15.0rc1", "--repo", str(repo), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert snapshot(repo) == before
    assert "--- a/Include/patchlevel.h\n+++ b/Include/patchlevel.h\n" in result.stdout
    assert '+#define PY_VERSION              "3.15.0rc1"\n' in result.stdout
    assert "-   .. versionadded:: next\n+   .. versionadded:: 3.15\n" in result.stdout
    assert "would change: README.rst" in result.stdout


def test_dry_run_json_carries_the_diff(tmp_path: Path) -> None:
    repo = build_tree(tmp_path / "repo", "3.15.0b1", "+dev")
    before = snapshot(repo)
    cycle = tmp_path / "release-cycle.json"
    cycle.write_text(json.dumps(RELEASE_CYCLE))
    result = CliRunner().invoke(cli, ["bump", "3.16.0a0", "--repo", str(repo), "--dry-run", "--json",
                                      "--release-cycle", str(cycle)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert "+++ b/Doc/whatsnew/3.16.rst" in report["diff"]
    assert "Doc/whatsnew/3.16.rst" in report["created"]
    assert snapshot(repo) == before


def test_unknown_pep_stops_the_bump_before_writing(tmp_path: Path) -> None:
    """No schedule data for 3.16: `relman bump 3.16.0a0` writes nothing (no `PEP TODO`), exit 2."""
    repo = build_tree(tmp_path / "repo", "3.15.0b1", "+dev")
    before = snapshot(repo)
    cycle = tmp_path / "release-cycle.json"
    cycle.write_text(json.dumps({"3.15": {"pep": 790}}))
    for extra in ([], ["--release-cycle", str(cycle)]):
        result = CliRunner().invoke(cli, ["bump", "3.16.0a0", "--repo", str(repo), *extra])
        assert result.exit_code == 2, result.output
        assert "PEP for Python 3.16 is not known" in result.output and "--release-cycle" in result.output
        assert "Traceback" not in result.output
    assert snapshot(repo) == before
