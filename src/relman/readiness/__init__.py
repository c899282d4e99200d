"""Readiness: is a branch releasable? CI per branch and tier, release blockers, waivers.

The public surface (all pure of CLI/engine imports):

- `assess_branch(branch, *, buildbot_url, tracker, cycle, waivers, version=None) -> Verdict`
- `assess(branches=None, **same) -> list[Verdict]` (and `assess_async`)
- `judge_branch(info, records=..., issues=..., waivers=..., version=...) -> Verdict` (no I/O)
- `Severity`, `Problem`, `Evidence`, `BuilderRecord`, `judge_builder`, `judge_builders`
- `GitHubTracker`, `Issue`, `judge_blockers`
- `Waiver`, `WaiverStore`, `apply_waivers`
"""

from .blockers import GitHubTracker, Issue, judge_blockers
from .severity import (DEFAULT_IDLE_AFTER, VERDICTS, BuilderRecord, Evidence, Problem, ProblemGroup, Severity,
                       group_problems, judge_builder, judge_builders)
from .verdict import (BuildbotSnapshot, Verdict, assess, assess_async, assess_branch, fetch_snapshot,
                      judge_branch)
from .waivers import Waiver, WaiverStore, apply_waivers, default_state_dir

__all__ = ["GitHubTracker", "Issue", "judge_blockers", "DEFAULT_IDLE_AFTER", "VERDICTS", "BuilderRecord",
           "Evidence", "Problem", "ProblemGroup", "Severity", "group_problems", "judge_builder", "judge_builders",
           "BuildbotSnapshot", "Verdict", "assess", "assess_async", "assess_branch", "fetch_snapshot",
           "judge_branch", "Waiver", "WaiverStore", "apply_waivers", "default_state_dir"]
