"""Waivers: recorded with who/why/until, expiring on their own, and their effect on a verdict."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli
from relman.errors import UsageError
from relman.readiness import BuilderRecord, WaiverStore, judge_branch
from relman.readiness.blockers import issues_from_json
from relman.readiness.waivers import parse_until
from relman.schedule.cycle import BranchInfo
from relman.ci.buildbot import Build, Builder

from github_server import github_server, issue

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "readiness"


def failing_tier1(name: str = "AMD64 Fedora 3.14") -> BuilderRecord:
    t = NOW.timestamp() - 3600
    return BuilderRecord(Builder(1, name, ("3.14", "stable", "tier-1")), True,
                         (Build(11, 1, 2, 2, True, t, t + 60), Build(10, 1, 1, 0, True, t - 7200, t - 7100)))


INFO = BranchInfo(version="3.14", branch="3.14", status="bugfix")


def test_waiver_turns_unreleasable_into_releasable_until_it_expires(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path)
    store.add("builder:AMD64 Fedora 3.14", who="Hugo", why="known flake gh-1", until=NOW + timedelta(days=2), now=NOW)
    records = [failing_tier1()]
    assert judge_branch(INFO, records=records, now=NOW).verdict == "Unreleasable"
    before = judge_branch(INFO, records=records, waivers=store.load(), now=NOW)
    assert before.verdict == "Releasable"
    assert before.waivers[0].who == "Hugo"
    assert before.featured_problem.label == "Tier-1 build failed (waived)"
    assert before.as_dict()["problems"][0]["waiver"]["why"] == "known flake gh-1"
    later = NOW + timedelta(days=3)
    after = judge_branch(INFO, records=records, waivers=store.load(), now=later)
    assert after.verdict == "Unreleasable" and after.waivers == []


def test_waiver_scoped_to_another_branch_does_not_apply(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path)
    store.add("builder:AMD64 Fedora 3.14", who="H", why="w", until=NOW + timedelta(days=1), branch="main", now=NOW)
    assert judge_branch(INFO, records=[failing_tier1()], waivers=store.load(), now=NOW).verdict == "Unreleasable"


def test_issue_waiver(tmp_path: Path) -> None:
    issues = issues_from_json([issue(5, "blocker", ["release-blocker", "3.14"])])
    store = WaiverStore(tmp_path)
    assert judge_branch(INFO, records=[], issues=issues, now=NOW).verdict == "Unreleasable"
    store.add("issue:#5", who="RM", why="fixed in the next one", until=NOW + timedelta(hours=5), now=NOW)
    verdict = judge_branch(INFO, records=[], issues=issues, waivers=store.load(), now=NOW)
    assert verdict.verdict == "Releasable" and verdict.blockers[0].waiver.target == "issue:5"


def test_store_rejects_bad_input_and_corruption(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path)
    with pytest.raises(UsageError, match="reason"):
        store.add("builder:x", who="a", why=" ", until=NOW + timedelta(days=1), now=NOW)
    with pytest.raises(UsageError, match="past"):
        store.add("builder:x", who="a", why="b", until=NOW - timedelta(days=1), now=NOW)
    with pytest.raises(UsageError, match="waiver target"):
        store.add("worker:x", who="a", why="b", until=NOW + timedelta(days=1), now=NOW)
    store.path.write_text("{not json")
    with pytest.raises(UsageError) as caught:
        store.load()
    assert caught.value.where == str(store.path)


@pytest.mark.parametrize("text,delta", [("36h", timedelta(hours=36)), ("3d", timedelta(days=3)), ("2w", timedelta(weeks=2))])
def test_parse_until_durations(text: str, delta: timedelta) -> None:
    assert parse_until(text, now=NOW) == NOW + delta


def test_parse_until_dates() -> None:
    assert parse_until("2026-12-01", now=NOW) == datetime(2026, 12, 1, 23, 59, 59, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match="not a date"):
        parse_until("next tuesday", now=NOW)


def test_cli_waive_list_revoke_and_status(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state")
    issues = [issue(42, "Segfault", ["release-blocker", "3.14"])]
    with github_server(issues) as server:
        args = ["status", "--tracker", server.url, "--cycle", str(FIXTURES / "python-releases.toml"),
                "--branch", "3.14", "--state-dir", state, "--json"]
        first = runner.invoke(cli, args)
        assert first.exit_code == 1, first.output
        [doc] = json.loads(first.output)
        assert doc["branch"] == "3.14" and doc["verdict"] == "Unreleasable"
        assert doc["featured_problem"]["issue"] == 42

        added = runner.invoke(cli, ["waive", "--issue", "42", "--why", "fix is merged", "--until", "2d",
                                    "--who", "Release Manager", "--state-dir", state, "--json"])
        assert added.exit_code == 0, added.output
        waiver = json.loads(added.output)
        assert waiver["target"] == "issue:42" and waiver["who"] == "Release Manager"

        second = runner.invoke(cli, args)
        assert second.exit_code == 0, second.output
        [doc] = json.loads(second.output)
        assert doc["verdict"] == "Releasable" and doc["waivers"][0]["id"] == waiver["id"]

        listed = runner.invoke(cli, ["waive", "--list", "--state-dir", state])
        assert waiver["id"] in listed.output and "fix is merged" in listed.output
        revoked = runner.invoke(cli, ["waive", "--revoke", waiver["id"], "--state-dir", state])
        assert revoked.exit_code == 0
        assert runner.invoke(cli, args).exit_code == 1


def test_cli_waive_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["waive", "--why", "x", "--until", "1d", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one" in result.output
    result = runner.invoke(cli, ["waive", "--builder", "b", "--why", "x", "--until", "soonish",
                                 "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "not a date" in result.output
    result = runner.invoke(cli, ["waive", "--revoke", "nope", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no waiver" in result.output
