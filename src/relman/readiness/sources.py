"""What readiness reads, resolved once: the one entry point `relman status`, the release
runner's pre-flight and the web dashboard share.

    sources = ReadinessSources.resolve(settings.readiness, buildbot=flag_or_none, state_dir=...)
    verdicts = assess_sources(sources, branches=["3.14"])          # or `await assess_sources_async`

Flags (keyword arguments that are not None) win over the configuration's [readiness]
section; the tracker token is named by an environment variable, never stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..version import Version
from .blockers import GitHubTracker, Issue
from .verdict import CycleLike, Verdict, assess_async
from .waivers import WaiverStore


def resolve_cycle_source(source: str | None, repo: Path | None) -> str | None:
    """A configured schedule file is relative to the repository; URLs and absolute paths stay."""
    if not source or repo is None:
        return source
    if str(source).startswith(("http://", "https://")) or Path(source).is_absolute():
        return str(source)
    return str(Path(repo) / source)


@dataclass(frozen=True)
class ReadinessSources:
    buildbot: str | None = None        # a Buildbot master (web root or /api/v2)
    tracker: str | None = None         # OWNER/REPO, a GitHub URL, or an API URL
    tracker_token_env: str = "GITHUB_TOKEN"
    cycle: str | None = None           # python-releases.toml, release-cycle.json, or a URL
    idle_days: float = 14.0
    state_dir: Path | None = None      # where waivers live (None: the default state folder)

    @classmethod
    def resolve(cls, settings: Any = None, *, repo: Path | None = None, **flags: Any) -> ReadinessSources:
        """From a [readiness] settings object (or None), overridden by the flags that are not None.
        A configured schedule file is relative to `repo` (the repository whose configuration it
        is); a `cycle` flag is taken as given (relative to where it was typed)."""
        base = cls()
        if settings is not None:
            base = cls(buildbot=settings.buildbot, tracker=settings.tracker,
                       tracker_token_env=settings.tracker_token_env or "GITHUB_TOKEN",
                       cycle=resolve_cycle_source(settings.cycle, repo), idle_days=settings.idle_days)
        given = {k: v for k, v in flags.items() if v is not None}
        unknown = set(given) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown readiness source(s): {', '.join(sorted(unknown))}")
        return replace(base, **given)

    @property
    def configured(self) -> bool:
        """Is there anything to judge (a Buildbot or a tracker)?"""
        return bool(self.buildbot or self.tracker)

    def require(self) -> ReadinessSources:
        if not self.configured:
            raise UsageError("nothing to judge: no Buildbot and no tracker",
                             hint="give --buildbot URL and/or --tracker OWNER/REPO "
                                  "(or set them in relman.toml [readiness])")
        return self

    def tracker_client(self) -> GitHubTracker | None:
        return GitHubTracker(self.tracker, token_env=self.tracker_token_env) if self.tracker else None

    def waivers(self) -> WaiverStore:
        return WaiverStore(self.state_dir)


async def assess_sources_async(sources: ReadinessSources, branches: Sequence[str] | None = None, *,
                               version: Version | str | None = None, offline: bool = False,
                               issues: Sequence[Issue] | None = None, cycle: CycleLike = None,
                               now: datetime | None = None) -> list[Verdict]:
    """The verdicts for these sources. `issues` and `cycle` let a long-lived caller (the web
    dashboard) pass what it fetched less often than Buildbot; by default they are read here."""
    tracker: Any = list(issues) if issues is not None else sources.tracker_client()
    return await assess_async(list(branches) if branches else None, buildbot_url=sources.buildbot,
                              tracker=tracker, cycle=cycle if cycle is not None else sources.cycle,
                              waivers=sources.waivers(), version=version,
                              idle_after=timedelta(days=sources.idle_days), offline=offline, now=now)


def assess_sources(sources: ReadinessSources, branches: Sequence[str] | None = None, **kwargs: Any) -> list[Verdict]:
    """Synchronous `assess_sources_async`."""
    return asyncio.run(assess_sources_async(sources, branches, **kwargs))
