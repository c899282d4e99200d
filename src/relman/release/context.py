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

    def check_transition(self, tags: list[str]) -> dict:
        """Is this version a valid next release of the tree? (`source.treeversion`; raises VersionError)"""
        from ..profile import generic_version_files
        from ..source.treeversion import (check_cpython_transition, check_generic_transition,
                                          read_cpython_tree_version, read_generic_tree_version)

        if self.cpython_like:
            return check_cpython_transition(self.version, read_cpython_tree_version(self.repo), tags)
        rules = generic_version_files(self.repo, self.settings.package, self.settings.version_files)
        return check_generic_transition(self.version, read_generic_tree_version(self.repo, rules), tags)

    def schedule(self, release_cycle=None) -> dict | None:
        """The schedule data (release-cycle.json shape) with `release_peps` from the settings laid over it."""
        if not self.settings.release_peps:
            return release_cycle
        merged = {key: dict(value) for key, value in (release_cycle or {}).items()}
        for xy, pep in self.settings.release_peps.items():
            merged.setdefault(xy, {})["pep"] = pep
        return merged

    def report_notes(self, ctx: StepContext, edits) -> list[dict]:
        """The notes of planned edits, in the run's output (logged) and the step's outputs (journal, diary)."""
        notes = [note.as_dict() for note in getattr(edits, "notes", [])]
        for note in notes:
            if note["kind"] != "info":
                ctx.log(f"note ({note['kind']}): {note['path']}: {note['message']}")
        return notes

    def plan_bump(self, version: Version, *, done: bool = False, release_cycle=None):
        """The version edits for this profile, planned (an EditSet), not written: the same
        planner `relman bump` uses."""
        release_cycle = self.schedule(release_cycle)
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
