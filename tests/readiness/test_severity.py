"""The dashboard's severity rules, table-tested on recorded Buildbot JSON (tests/fixtures/readiness)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from relman.ci.buildbot import Build, Builder
from relman.readiness import BuilderRecord, Severity, judge_builder, judge_branch
from relman.readiness.severity import group_problems
from relman.schedule.cycle import BranchInfo

DATA = json.loads((Path(__file__).parents[1] / "fixtures" / "readiness" / "severity_cases.json").read_text())
NOW = datetime.fromtimestamp(DATA["now"], tz=timezone.utc)


def record(case: dict) -> BuilderRecord:
    return BuilderRecord(Builder.from_api(case["builder"]), case["connected"],
                         tuple(Build.from_api(b) for b in case["builds"]))


def link(builderid: int, number: int) -> str:
    return f"http://bb.example/#/builders/{builderid}/builds/{number}"


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_severity_rules(case: dict) -> None:
    problems = judge_builder(record(case), now=NOW, link=link)
    got = [[p.kind, p.severity.name, p.description] for p in problems]
    assert got == [e[:3] for e in case["expect"]]
    for problem, expected in zip(problems, case["expect"]):
        facts = expected[3]
        evidence = {e.label: e for e in problem.evidence}
        assert problem.builder == case["builder"]["name"]
        if "latest" in facts:
            latest = evidence.get("Latest build") or evidence.get("Warning build") or evidence.get("Last build")
            assert latest.build == facts["latest"]
            assert latest.url == link(case["builder"]["builderid"], facts["latest"])
            assert latest.when is not None and latest.builder == case["builder"]["name"]
        if "breaking" in facts:
            breaking = evidence.get("Breaking build")
            assert (breaking.build if breaking else None) == facts["breaking"]
            if facts["breaking"] is None:
                assert "unknown" in problem.detail


def test_passed_over_builds_are_named_in_the_evidence() -> None:
    case = next(c for c in DATA["cases"] if c["name"] == "exception-over-failure")
    [problem] = judge_builder(record(case), now=NOW)
    assert "#5 exception" in problem.evidence[0].note and "#4 retry" in problem.evidence[0].note


def test_idle_threshold_is_configurable() -> None:
    case = next(c for c in DATA["cases"] if c["name"] == "idle-failing-tier1")
    assert [p.kind for p in judge_builder(record(case), now=NOW, idle_after=None)] == ["build_failure"]
    assert [p.kind for p in judge_builder(record(case), now=NOW, idle_after=timedelta(days=30))] == ["build_failure"]
    [idle] = judge_builder(record(case), now=NOW, idle_after=timedelta(days=14))
    assert idle.severity.verdict == "Releasable" and "failure" in idle.detail


@pytest.mark.parametrize("severity,verdict", [
    (Severity.NO_INFO, "N/A"), (Severity.NO_PROBLEM, "Releasable"), (Severity.unstable_builder_failure, "Releasable"),
    (Severity.disconnected_blocking_builder, "Releasable"), (Severity.idle_builder, "Releasable"),
    (Severity.CONCERNING, "Concern"), (Severity.nonblocking_failure, "Concern"), (Severity.deferred_blocker, "Concern"),
    (Severity.BLOCKING, "Unreleasable"), (Severity.release_blocking_failure, "Unreleasable"),
    (Severity.release_blocker, "Unreleasable"),
])
def test_verdict_thresholds(severity: Severity, verdict: str) -> None:
    assert severity.verdict == verdict


def test_dashboard_order_is_kept() -> None:
    order = [Severity.NO_INFO, Severity.NO_PROBLEM, Severity.disconnected_unstable_builder, Severity.unstable_warnings,
             Severity.unstable_builder_failure, Severity.TRIVIAL, Severity.stable_warnings,
             Severity.disconnected_stable_builder, Severity.disconnected_blocking_builder, Severity.CONCERNING,
             Severity.nonblocking_failure, Severity.BLOCKING, Severity.release_blocking_failure]
    assert order == sorted(order)


def test_branch_verdict_featured_problem_and_groups() -> None:
    records = [record(c) for c in DATA["cases"]]
    info = BranchInfo(version="3.14", branch="3.14", status="bugfix")
    verdict = judge_branch(info, records=records, now=NOW, link=link)
    assert verdict.verdict == "Unreleasable"
    assert verdict.featured_problem.severity == Severity.release_blocking_failure
    assert verdict.builders == len(records)
    groups = {g.description: g.count for g in verdict.groups}
    expected_failed = sum(1 for c in DATA["cases"] for e in c["expect"]
                          if e[2] == "Tier-1 build failed")
    assert groups["Tier-1 build failed"] == expected_failed
    assert groups["No problem detected"] == sum(1 for c in DATA["cases"] if not c["expect"])
    # worst group first, each group's severity non-increasing
    severities = [g.severity for g in verdict.groups]
    assert severities == sorted(severities, reverse=True)
    doc = verdict.as_dict()
    json.dumps(doc)
    assert doc["branch"] == "3.14" and doc["verdict"] == "Unreleasable"
    assert doc["featured_problem"]["evidence"][0]["url"].startswith("http://bb.example/")


def test_builders_belong_to_their_first_branch_only() -> None:
    base = DATA["cases"][0]
    both = dict(base, builder=dict(base["builder"], tags=["3.x", "3.14", "stable", "tier-1"]))
    info_main = BranchInfo(version="3.15", branch="main", status="feature")
    info_314 = BranchInfo(version="3.14", branch="3.14", status="bugfix")
    order = ["3.x", "3.14"]
    assert judge_branch(info_main, records=[record(both)], branch_tags=order, now=NOW).builders == 1
    assert judge_branch(info_314, records=[record(both)], branch_tags=order, now=NOW).builders == 0


def test_branch_without_builders_is_not_applicable() -> None:
    verdict = judge_branch(BranchInfo(version="3.12", branch="3.12", status="security"), records=[], now=NOW)
    assert verdict.verdict == "N/A" and verdict.featured_problem is None


def test_concern_from_a_non_blocking_failure() -> None:
    case = next(c for c in DATA["cases"] if c["name"] == "tier3-failure")
    verdict = judge_branch(BranchInfo(version="3.14", branch="3.14", status="bugfix"), records=[record(case)], now=NOW)
    assert verdict.verdict == "Concern"
    assert [g.title for g in group_problems(verdict.problems)] == ["Tier-3 build failed (1)"]
