"""What every release step shares: the version, the repository, the settings, the adapters.

Built once per run from the run's parameters, so a rehearsal differs from a real release
only in its configuration (endpoints), never in the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..engine.step import StepContext
from ..profile import plan_version_bump, uses_cpython_rules
from ..vcs import Git
from ..version import Version


@dataclass
class Release:
    version: Version
    repo: Path
    settings: Settings
    git: Git
    work_dir: Path            # where the run keeps artifacts and previews

    @property
    def temp_branch(self) -> str:
        return self.settings.git.temp_branch.format(tag=self.version.git_tag, version=self.version.text)

    @property
    def news_dir(self) -> Path:
        return self.repo / self.settings.news.dir

    @property
    def artifacts_dir(self) -> Path:
        return self.work_dir / "artifacts"

    def remote(self, which: str) -> str:
        return getattr(self.settings.remotes, which)

    @property
    def cpython_like(self) -> bool:
        """CPython's conventions: patchlevel.h, README, X.Y branches from beta 1."""
        return uses_cpython_rules(self.settings.profile)

    @property
    def branches_at_feature_freeze(self) -> bool:
        return self.cpython_like and self.version.is_feature_freeze

    @property
    def release_branch(self) -> str:
        """Where this version is released from (CPython's rule unless configured)."""
        return self.settings.git.release_branch or self.version.branch

    @property
    def post_release_branch(self) -> str:
        """Where the "Post V" commit goes: the new X.Y branch at beta 1, else the release branch."""
        return self.version.basic_version if self.branches_at_feature_freeze else self.release_branch

    @property
    def upstream_branches(self) -> list[str]:
        if self.branches_at_feature_freeze:
            return [self.version.basic_version, "main"]
        return [self.release_branch]

    def plan_bump(self, version: Version, *, done: bool = False, release_cycle=None):
        """The version edits for this profile, planned (an EditSet), not written: the same
        planner `relman bump` uses."""
        return plan_version_bump(self.repo, version.text, profile=self.settings.profile, done=done,
                                 package=self.settings.package, version_files=self.settings.version_files,
                                 release_cycle=release_cycle, docs=True)


    @property
    def own_branches(self) -> list[str]:
        """Every branch (and the tag) the release steps check out or move, in order."""
        names = [self.release_branch, self.temp_branch, self.post_release_branch]
        if self.branches_at_feature_freeze:
            names.append("main")
        return list(dict.fromkeys(names)) + [f"refs/tags/{self.version.git_tag}"]

    def recover_interrupted(self, note) -> None:
        """Called by the engine before any step runs: stale git locks left by relman's own killed
        git are cleared (a live git's are reported), and a half-done checkout or merge relman
        provably left is put back. Every repair is journaled through `note`."""
        from .gitops import clear_stale_locks, recover_checkout

        if not self.git.is_repo():
            return
        cleared = clear_stale_locks(self.git, note)
        recover_checkout(self.git, self.work_dir, self.own_branches, note, interrupted_git=bool(cleared))


def release_of(ctx: StepContext) -> Release:
    return ctx.resources["release"]
