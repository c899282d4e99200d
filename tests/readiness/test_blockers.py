"""Release blockers: the tracker client against a local GitHub-shaped server, and the stage rules."""

from __future__ import annotations

import asyncio

import pytest

from relman.errors import ExternalServiceError, UsageError
from relman.readiness.blockers import GitHubTracker, Issue, issues_from_json, judge_blockers, tracker_api_url
from relman.version import Version

from github_server import github_server, issue

ISSUES = [
    issue(101, "Crash in the JIT on 3.14", ["type-crash", "release-blocker", "3.14", "3.15"]),
    issue(102, "main-only regression", ["release-blocker", "3.15"]),
    issue(103, "No version label", ["release-blocker"]),
    issue(104, "Feature not finished", ["release-blocker", "3.15", "okay-after-beta1"]),
    issue(105, "Deferred to rc2", ["deferred-blocker", "3.14"], milestone="3.14.0rc2"),
    issue(106, "Deferred, no target", ["deferred-blocker", "3.14"]),
    issue(107, "Not a blocker", ["type-bug", "3.14"]),
    issue(108, "PR that blocks", ["release-blocker", "3.14"], pr=True),
]


def fetch(url: str, **kw) -> list[Issue]:
    return asyncio.run(GitHubTracker(url, **kw).blockers())


def kinds(problems) -> dict[int, tuple[str, str]]:
    return {p.issue: (p.description, p.severity.verdict) for p in problems}


def test_client_reads_both_labels_and_skips_the_rest() -> None:
    with github_server(ISSUES) as server:
        found = fetch(server.url)
    assert [i.number for i in found] == [101, 102, 103, 104, 105, 106, 108]
    assert found[-1].is_pull_request
    assert {i.number: i.milestone for i in found}[105] == "3.14.0rc2"
    labels_asked = sorted(path.split("labels=")[1].split("&")[0] for path, _ in server.requests)
    assert labels_asked == ["deferred-blocker", "release-blocker"]


def test_client_follows_pagination() -> None:
    many = [issue(1000 + n, f"blocker {n}", ["release-blocker", "3.14"]) for n in range(230)]
    with github_server(many) as server:
        found = fetch(server.url)
    assert len(found) == 230
    assert sum("page=3" in path for path, _ in server.requests) == 1


def test_token_is_sent_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELMAN_TEST_TOKEN", "s3cret-token")
    with github_server(ISSUES) as server:
        fetch(server.url, token_env="RELMAN_TEST_TOKEN")
    assert all(h.get("Authorization") == "Bearer s3cret-token" for _, h in server.requests)
    monkeypatch.delenv("RELMAN_TEST_TOKEN")
    with github_server(ISSUES) as server:
        fetch(server.url, token_env="RELMAN_TEST_TOKEN")
    assert all("Authorization" not in h for _, h in server.requests)


@pytest.mark.parametrize("mode,words", [("401", ["HTTP 401", "Bad credentials"]), ("500", ["HTTP 500"]),
                                        ("truncated", ["malformed or truncated JSON"]),
                                        ("not-a-list", ["expected a list"])])
def test_tracker_failures_name_the_url(mode: str, words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "never-printed")
    with github_server(ISSUES, mode=mode) as server:
        with pytest.raises(ExternalServiceError) as caught:
            fetch(server.url)
    text = str(caught.value)
    assert server.url + "/issues" in text
    assert all(w in text for w in words)
    assert "never-printed" not in text


def test_connection_refused_is_an_error() -> None:
    with github_server(ISSUES) as server:
        url = server.url
    with pytest.raises(ExternalServiceError, match="could not connect"):
        fetch(url)


@pytest.mark.parametrize("given,api", [
    ("python/cpython", "https://api.github.com/repos/python/cpython"),
    ("https://github.com/python/cpython/", "https://api.github.com/repos/python/cpython"),
    ("http://127.0.0.1:9/repos/o/r", "http://127.0.0.1:9/repos/o/r"),
])
def test_tracker_urls(given: str, api: str) -> None:
    assert tracker_api_url(given) == api


def test_bad_tracker_url() -> None:
    with pytest.raises(UsageError, match="not a tracker URL"):
        tracker_api_url("ftp://example.org/x")


ALL = issues_from_json(ISSUES)


def test_version_labels_choose_the_branch() -> None:
    on_314 = kinds(judge_blockers(ALL, version_label="3.14", version=Version.parse("3.14.2")))
    assert set(on_314) == {101, 103, 105, 106, 108}        # 102, 104 are 3.15 only, 107 is no blocker
    on_313 = kinds(judge_blockers(ALL, version_label="3.13", version=Version.parse("3.13.10")))
    assert set(on_313) == {103}                             # no version label: every branch


@pytest.mark.parametrize("version,verdict", [("3.15.0a3", "Releasable"), ("3.15.0b1", "Releasable"),
                                             ("3.15.0b4", "Releasable"), ("3.15.0rc1", "Unreleasable"),
                                             ("3.15.0", "Unreleasable")])
def test_okay_after_beta1(version: str, verdict: str) -> None:
    found = kinds(judge_blockers(ALL, version_label="3.15", version=Version.parse(version)))
    assert found[104][1] == verdict
    assert found[102] == ("Release blocker", "Unreleasable")


@pytest.mark.parametrize("version,verdict", [("3.14.0rc1", "Releasable"), ("3.14.0rc2", "Unreleasable"),
                                             ("3.14.0", "Unreleasable"), ("3.14.3", "Unreleasable")])
def test_deferred_blocker_blocks_the_release_it_was_deferred_to(version: str, verdict: str) -> None:
    assert kinds(judge_blockers(ALL, version_label="3.14", version=Version.parse(version)))[105][1] == verdict


@pytest.mark.parametrize("version,verdict", [("3.14.0b3", "Releasable"), ("3.14.0rc1", "Unreleasable"),
                                             ("3.14.1", "Unreleasable")])
def test_deferred_blocker_without_target_follows_pep_101(version: str, verdict: str) -> None:
    assert kinds(judge_blockers(ALL, version_label="3.14", version=Version.parse(version)))[106][1] == verdict


def test_unknown_release_makes_deferred_blockers_a_concern() -> None:
    found = kinds(judge_blockers(ALL, version_label="3.14", version=None))
    assert found[105][1] == found[106][1] == "Concern"
    assert found[101][1] == "Unreleasable"


def test_okay_after_spellings() -> None:
    for label, stage in [("okay-after-beta1", ("b", 1)), ("okay after rc 1", ("rc", 1)),
                         ("okay-after-release-candidate-2", ("rc", 2)), ("okay_after_b2", ("b", 2))]:
        assert Issue(1, "t", "u", ("release-blocker", label)).okay_after == stage
    assert Issue(1, "t", "u", ("release-blocker",), milestone="Python 3.14.0rc2").deferred_to == Version.parse("3.14.0rc2")
    assert Issue(1, "t", "u", ("deferred-to-3.14.1",)).deferred_to == Version.parse("3.14.1")
