"""The release schedule: release-cycle data (branches, statuses, releases) and countdowns."""

from .cycle import (DEFAULT_CYCLE_URL, STATUSES, BranchInfo, ReleaseCycle, ScheduledRelease, load_cycle,
                    parse_cycle, parse_stage, release_for)

__all__ = ["DEFAULT_CYCLE_URL", "STATUSES", "BranchInfo", "ReleaseCycle", "ScheduledRelease", "load_cycle",
           "parse_cycle", "parse_stage", "release_for"]
