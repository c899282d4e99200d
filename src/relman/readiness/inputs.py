"""What a readiness verdict is computed from, resolved once for `relman status` and the run's
preflight: the Buildbot master, the tracker (with its token variable), the schedule data (a
configured path is relative to the repository), the idle limit and the waivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .blockers import GitHubTracker
from .waivers import WaiverStore

DEFAULT_IDLE_DAYS = 14.0


def resolve_cycle_source(source: str | None, repo: Path) -> str | None:
    """A configured schedule file is relative to the repository; URLs and absolute paths stay."""
    if not source:
        return None
    if str(source).startswith(("http://", "https://")) or Path(source).is_absolute():
        return str(source)
    return str(Path(repo) / source)


@dataclass(frozen=True)
class ReadinessInputs:
    buildbot_url: str | None
    tracker: GitHubTracker | None
    cycle: str | None
    idle_after: timedelta
    waivers: WaiverStore

    @property
    def configured(self) -> bool:
        return bool(self.buildbot_url or self.tracker)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `assess` / `assess_branch`."""
        return {"buildbot_url": self.buildbot_url, "tracker": self.tracker, "cycle": self.cycle,
                "waivers": self.waivers, "idle_after": self.idle_after}


def readiness_inputs(settings: Any, repo: Path, *, state_dir: Path | None = None, buildbot_url: str | None = None,
                     tracker: str | None = None, cycle: str | None = None,
                     idle_days: float | None = None) -> ReadinessInputs:
    """`settings` is the [readiness] table (config.ReadinessSettings, or None); the keyword values
    are command-line overrides (a `cycle` given on the command line is relative to where it was typed)."""
    buildbot_url = buildbot_url or getattr(settings, "buildbot", None)
    tracker = tracker or getattr(settings, "tracker", None)
    cycle = cycle or resolve_cycle_source(getattr(settings, "cycle", None), repo)
    if idle_days is None:
        configured = getattr(settings, "idle_days", None)
        idle_days = DEFAULT_IDLE_DAYS if configured is None else configured
    token_env = getattr(settings, "tracker_token_env", None) or "GITHUB_TOKEN"
    return ReadinessInputs(buildbot_url, GitHubTracker(tracker, token_env=token_env) if tracker else None,
                           cycle, timedelta(days=idle_days), WaiverStore(state_dir))
