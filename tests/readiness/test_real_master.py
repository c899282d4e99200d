"""Verdicts computed from a real Buildbot master with real workers (see tests/buildbot_fixture.py)."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

from click.testing import CliRunner

from relman.cli.main import cli
from relman.readiness import WaiverStore, assess, assess_branch

from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "readiness"
CYCLE = str(FIXTURES / "python-releases.toml")


def by_builder(verdict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in verdict.problems:
        out.setdefault(problem.builder, []).append(problem.description)
    return out


def test_verdicts_from_the_real_master(cpython_like_master) -> None:  # noqa: F811
    verdicts = {v.branch: v for v in assess(buildbot_url=cpython_like_master.url, cycle=CYCLE)}
    assert set(verdicts) == {"main", "3.14", "3.12"}
    main, b314, b312 = verdicts["main"], verdicts["3.14"], verdicts["3.12"]

    assert main.verdict == "Unreleasable" and main.tag == "3.x" and main.version_label == "3.15"
    assert main.featured_problem.description == "Tier-1 build failed"
    assert by_builder(main) == {
        "AMD64 Ubuntu 3.x": ["No problem detected"],
        "AMD64 Fedora 3.x": ["Tier-1 build failed"],
        "AMD64 Windows11 3.x": ["Tier-1 build failed"],
        "ARM64 macOS 3.x": ["Warnings from Tier-2 build"],
        "s390x RHEL 3.x": ["Unstable build failed"],
        "PPC64 AIX 3.x": ["No builds"],
        "x86 Gentoo 3.x": ["Disconnected Tier-3 builder (with recent build)"],
    }
    groups = {g.description: g.count for g in main.groups}
    assert groups["Tier-1 build failed"] == 2 and groups["No problem detected"] == 1
    assert main.builders == 7

    windows = next(p for p in main.problems if p.builder == "AMD64 Windows11 3.x")
    evidence = {e.label: e for e in windows.evidence}
    assert (evidence["Latest build"].build, evidence["Breaking build"].build) == (3, 2)
    assert evidence["Latest build"].url.startswith(cpython_like_master.url.rstrip("/") + "/#/builders/")
    fedora = next(p for p in main.problems if p.builder == "AMD64 Fedora 3.x")
    assert "unknown" in fedora.detail and len(fedora.evidence) == 1

    assert b314.verdict == "Releasable"
    assert b314.featured_problem.description == "Disconnected Tier-3 builder (with recent build)"
    assert {g.description: g.count for g in b314.groups}["No problem detected"] == 2
    assert b312.verdict == "N/A" and b312.builders == 0     # no 3.12 builders on this master


def test_assess_branch_for_a_version_uses_the_same_policy(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    verdict = assess_branch(None, version="3.15.0a2", buildbot_url=cpython_like_master.url, cycle=CYCLE)
    assert verdict.branch == "main" and verdict.version == "3.15.0a2" and verdict.verdict == "Unreleasable"
    store = WaiverStore(tmp_path)
    from datetime import datetime, timedelta, timezone
    until = datetime.now(tz=timezone.utc) + timedelta(hours=1)
    for name in ("AMD64 Fedora 3.x", "AMD64 Windows11 3.x"):
        store.add(f"builder:{name}", who="RM", why="known", until=until, branch="main")
    waived = assess_branch("main", buildbot_url=cpython_like_master.url, cycle=CYCLE, waivers=store)
    assert waived.verdict == "Releasable" and len(waived.waivers) == 2
    json.dumps(waived.as_dict())


def test_status_cli_json_and_exit_codes(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    runner = CliRunner()
    base = ["status", "--buildbot", cpython_like_master.url, "--cycle", CYCLE, "--state-dir", str(tmp_path)]
    everything = runner.invoke(cli, [*base, "--json"])
    assert everything.exit_code == 0, everything.output
    docs = json.loads(everything.output)
    assert [d["branch"] for d in docs] == ["main", "3.14", "3.12"]
    for doc in docs:
        assert {"branch", "verdict", "featured_problem", "problems"} <= set(doc)
    assert runner.invoke(cli, [*base, "--branch", "3.14", "--json"]).exit_code == 0
    main = runner.invoke(cli, [*base, "--branch", "main"])
    assert main.exit_code == 1
    assert "Tier-1 build failed" in main.output and "unreleasable: main" in main.output


@pytest.mark.parametrize("streak_page", [64, 1], ids=["streak-in-one-page", "streak-longer-than-the-page"])
def test_streak_found_with_few_requests_and_window_edge(cpython_like_master, monkeypatch,  # noqa: F811
                                                        streak_page: int) -> None:
    """With one build per builder up front, the breaking build comes from the last success —
    found in one page of successes and failures, or (a streak longer than that page) by asking
    for the last success and then the failures after it."""
    import asyncio

    from relman.ci.buildbot import BuildbotClient
    from relman.readiness import judge_builder, verdict as verdict_mod

    monkeypatch.setattr(verdict_mod, "LATEST_PAGE", 1)
    monkeypatch.setattr(verdict_mod, "STREAK_PAGE", streak_page)

    async def snap(history: int):
        async with BuildbotClient(cpython_like_master.url) as bb:
            return await verdict_mod.fetch_snapshot(bb, tags=["3.x"], history=history)

    def windows_problem(history: int):
        snapshot = asyncio.run(snap(history))
        record = next(r for r in snapshot.records if r.name == "AMD64 Windows11 3.x")
        from datetime import datetime, timezone
        [problem] = judge_builder(record, now=datetime.now(tz=timezone.utc))
        return {e.label: e.build for e in problem.evidence}, problem.detail

    evidence, _ = windows_problem(200)
    assert evidence == {"Latest build": 3, "Breaking build": 2}
    evidence, detail = windows_problem(2)      # the last success (#1) is outside a 2-build window
    assert evidence == {"Latest build": 3} and "unknown" in detail
