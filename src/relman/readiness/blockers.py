"""Release-blocker and deferred-blocker issues, from a GitHub-style issue tracker.

PEP 101 asks release managers to check by hand that no `release-blocker` issue is open for
any release, and no `deferred-blocker` issue for a release candidate or final. Here:

- an issue applies to a branch when it carries that branch's version label ("3.14"; the
  in-development version's label for `main`), or carries no version label at all;
- `release-blocker` blocks, unless a stage override lifts it for the release being made:
  a label such as `okay-after-beta1` ("okay after beta 1") lets every alpha and beta of the
  feature version ship with it open, `okay-after-rc1` every alpha, beta and candidate (the
  same idea as Go's okay-after-* labels); bugfix releases are never lifted;
- `deferred-blocker` was deferred from one release to a later one. The milestone (or a
  `deferred-to-X.Y.ZsN` label) names that release: it blocks when the release being made is
  that one or later, and is reported as a reminder before. Without a target, PEP 101's rule:
  it blocks release candidates and finals. When the release being made is unknown, it is a
  concern.

The tracker client speaks GitHub's REST API (`GET /repos/{owner}/{repo}/issues` with
`labels=`, `state=open`, `per_page=100`, following `Link: <…>; rel="next"`). The token is
read from an environment variable (GITHUB_TOKEN by default), sent as a bearer token, and
never printed or stored.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import ExternalServiceError, UsageError
from ..version import Version
from .severity import Evidence, Problem, Severity

RELEASE_BLOCKER = "release-blocker"
DEFERRED_BLOCKER = "deferred-blocker"
_VERSION_LABEL = re.compile(r"^(\d+)\.(\d+)$")
_OKAY_AFTER = re.compile(r"^okay[-_ ]after[-_ ](alpha|beta|rc|candidate|release[-_ ]candidate|a|b)[-_ ]?(\d+)$", re.I)
_DEFERRED_TO = re.compile(r"^deferred[-_ ]to[-_ :](.+)$", re.I)
_LEVELS = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc", "candidate": "rc"}
_STAGE_WORDS = {"a": "alpha", "b": "beta", "rc": "rc"}


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    url: str
    labels: tuple[str, ...]
    milestone: str | None = None
    is_pull_request: bool = False
    updated_at: str | None = None

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> Issue:
        raw_labels = data.get("labels") or []
        if not isinstance(raw_labels, list):
            raise TypeError(f"'labels' is a {type(raw_labels).__name__}, not a list")
        labels = tuple(l["name"] if isinstance(l, dict) else str(l) for l in raw_labels)
        milestone = (data.get("milestone") or {}).get("title") if isinstance(data.get("milestone"), dict) else None
        return cls(int(data["number"]), str(data.get("title") or ""), str(data.get("html_url") or data.get("url") or ""),
                   labels, milestone, "pull_request" in data, data.get("updated_at"))

    @property
    def version_labels(self) -> set[str]:
        return {l for l in self.labels if _VERSION_LABEL.match(l)}

    def applies_to(self, version_label: str) -> bool:
        labels = self.version_labels
        return not labels or version_label in labels

    @property
    def okay_after(self) -> tuple[str, int] | None:
        """The stage override (level, serial), e.g. ("b", 1) for `okay-after-beta1`."""
        for label in self.labels:
            match = _OKAY_AFTER.match(label.strip())
            if match:
                word = match[1].lower().replace("_", " ").replace("-", " ")
                level = "rc" if "candidate" in word else _LEVELS[word]
                return level, int(match[2])
        return None

    @property
    def deferred_to(self) -> Version | None:
        candidates = [self.milestone or ""]
        candidates += [m[1] for l in self.labels if (m := _DEFERRED_TO.match(l))]
        for text in candidates:
            text = text.strip().removeprefix("Python ").removeprefix("v")
            if not text:
                continue
            found = Version.from_label(text)
            if found is not None:
                return found
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "url": self.url, "labels": list(self.labels),
                "milestone": self.milestone}


def judge_blockers(issues: Iterable[Issue], *, version_label: str, version: Version | None = None) -> list[Problem]:
    """The blocker problems for one branch (`version_label` "3.14"), for the release `version`."""
    problems: list[Problem] = []
    for issue in issues:
        if not issue.applies_to(version_label):
            continue
        labels = set(issue.labels)
        evidence = (Evidence("Issue", url=issue.url, note=issue.title),)
        if RELEASE_BLOCKER in labels:
            problems.append(_release_blocker(issue, version, evidence))
        elif DEFERRED_BLOCKER in labels:
            problems.append(_deferred_blocker(issue, version, evidence))
    return problems


def _release_blocker(issue: Issue, version: Version | None, evidence: tuple[Evidence, ...]) -> Problem:
    override = issue.okay_after
    detail = f"#{issue.number} {issue.title}"
    if override is None:
        return Problem("release_blocker", Severity.release_blocker, "Release blocker", issue=issue.number,
                       detail=detail, evidence=evidence)
    level, serial = override
    stage = f"{_STAGE_WORDS[level]} {serial}"
    if version is None:
        return Problem("release_blocker", Severity.deferred_blocker, f"Release blocker (okay after {stage})",
                       issue=issue.number, detail=detail + "; the release being made is unknown", evidence=evidence)
    lifted = version.micro == 0 and version.level != "f" and (
        _level_rank(version.level) <= _level_rank(level))
    if lifted:
        return Problem("release_blocker", Severity.deferred_blocker_later, f"Release blocker (okay after {stage})",
                       issue=issue.number, detail=f"{detail}; does not block {version.text}", evidence=evidence)
    return Problem("release_blocker", Severity.release_blocker, "Release blocker", issue=issue.number,
                   detail=f"{detail}; okay after {stage}, which {version.text} is past", evidence=evidence)


def _deferred_blocker(issue: Issue, version: Version | None, evidence: tuple[Evidence, ...]) -> Problem:
    target = issue.deferred_to
    detail = f"#{issue.number} {issue.title}"
    if version is None:
        where = f" (deferred to {target.text})" if target else ""
        return Problem("deferred_blocker", Severity.deferred_blocker, "Deferred blocker", issue=issue.number,
                       detail=detail + where + "; the release being made is unknown", evidence=evidence)
    if target is not None:
        blocking = version >= target
        why = f"deferred to {target.text}"
    else:
        blocking = version.level in ("rc", "f")
        why = "no target release: PEP 101 lets deferred blockers through alphas and betas only"
    if blocking:
        return Problem("deferred_blocker", Severity.release_blocker, "Deferred blocker (now blocking)",
                       issue=issue.number, detail=f"{detail}; {why}", evidence=evidence)
    return Problem("deferred_blocker", Severity.deferred_blocker_later, "Deferred blocker (later release)",
                   issue=issue.number, detail=f"{detail}; {why}", evidence=evidence)


def _level_rank(level: str) -> int:
    return {"a": 0, "b": 1, "rc": 2, "f": 3}[level]


# ---- the GitHub tracker client -------------------------------------------------------------

def tracker_api_url(url: str) -> str:
    """`https://github.com/python/cpython`, `python/cpython`, or an API URL ending in
    `/repos/{owner}/{repo}` → the API base for that repository."""
    text = url.strip().rstrip("/")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", text):
        return f"https://api.github.com/repos/{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"not a tracker URL: {url!r}",
                         hint="give owner/repo, https://github.com/OWNER/REPO or an API URL ending in /repos/OWNER/REPO")
    if parts.netloc == "github.com":
        owner_repo = parts.path.strip("/").split("/")[:2]
        if len(owner_repo) == 2:
            return "https://api.github.com/repos/" + "/".join(owner_repo)
    if re.search(r"/repos/[^/]+/[^/]+$", parts.path):
        return text
    raise UsageError(f"not a tracker URL: {url!r}", hint="the API URL must end in /repos/OWNER/REPO")


class GitHubTracker:
    """Reads blocker issues from GitHub's REST API (or anything answering in its shape)."""

    def __init__(self, url: str = "python/cpython", *, token_env: str = "GITHUB_TOKEN", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None, max_pages: int = 20,
                 retries: int = 2, backoff_s: float = 0.5):
        self.base = tracker_api_url(url)
        self.retries = retries        # transient failures (timeouts, resets, 5xx) are retried
        self.backoff_s = backoff_s
        self.token_env = token_env
        self.timeout = timeout
        self.transport = transport
        self.max_pages = max_pages

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "relman"}
        token = os.environ.get(self.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def issues_with_label(self, label: str, client: httpx.AsyncClient) -> list[Issue]:
        url: str | None = f"{self.base}/issues"
        params: dict[str, Any] | None = {"labels": label, "state": "open", "per_page": 100}
        found: list[Issue] = []
        for _ in range(self.max_pages):
            if url is None:
                break
            response = await self._get(client, url, params)
            shown = str(response.request.url)
            if response.status_code >= 400:
                hint = (f"set {self.token_env} to a token that can read the repository"
                        if response.status_code in (401, 403) else None)
                raise ExternalServiceError(f"tracker {shown}: HTTP {response.status_code}: "
                                           f"{' '.join(response.text.split())[:200]}", hint=hint)
            try:
                items = json.loads(response.content)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
                raise ExternalServiceError(f"tracker {shown}: malformed or truncated JSON ({str(error)[:80]})") from None
            if not isinstance(items, list):
                raise ExternalServiceError(f"tracker {shown}: expected a list of issues, got {type(items).__name__}")
            try:
                found.extend(Issue.from_github(item) for item in items)
            except KeyError as error:
                raise ExternalServiceError(f"tracker {shown}: an issue lacks {error}") from None
            except (TypeError, ValueError, AttributeError) as error:
                raise ExternalServiceError(f"tracker {shown}: an issue is malformed ({error})") from None
            url = response.links.get("next", {}).get("url")
            params = None   # the next link carries its own query
        return found

    async def _get(self, client: httpx.AsyncClient, url: str, params: dict[str, Any] | None) -> httpx.Response:
        """GET with retries (and backoff) for what is worth retrying: timeouts, broken
        connections, HTTP 5xx. Anything else, and the last failure, is for the caller."""
        import asyncio

        attempt = 0
        while True:
            try:
                response = await client.get(url, params=params)
                if response.status_code < 500 or attempt >= self.retries:
                    return response
                problem = f"HTTP {response.status_code}"
            except httpx.TimeoutException:
                if attempt >= self.retries:
                    raise ExternalServiceError(f"tracker {url}: timed out after {self.timeout:g} s",
                                               hint=f"gave up after {attempt + 1} attempts") from None
                problem = "timed out"
            except httpx.TransportError as error:
                if attempt >= self.retries:
                    raise ExternalServiceError(f"tracker {url}: could not connect ({error})",
                                               hint=f"gave up after {attempt + 1} attempts") from None
                problem = str(error)
            del problem  # (kept for a debugger; every attempt but the last is retried quietly)
            await asyncio.sleep(self.backoff_s * (2 ** attempt))
            attempt += 1

    async def blockers(self) -> list[Issue]:
        """Open issues labelled release-blocker or deferred-blocker (labels= is AND on GitHub: two queries)."""
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport, headers=self._headers(),
                                     follow_redirects=True) as client:
            import asyncio
            lists = await asyncio.gather(*(self.issues_with_label(l, client)
                                           for l in (RELEASE_BLOCKER, DEFERRED_BLOCKER)))
        seen: dict[int, Issue] = {}
        for issue in (i for items in lists for i in items):
            seen.setdefault(issue.number, issue)
        return sorted(seen.values(), key=lambda i: i.number)


def issues_from_json(data: Sequence[dict[str, Any]]) -> list[Issue]:
    """Issues from a recorded GitHub API answer (a list of issue objects)."""
    return [Issue.from_github(item) for item in data]
