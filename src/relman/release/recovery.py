"""Recovering a release that went wrong after the tag: is it released, abort, redo, what next.

Everything here acts only on what the journal proves relman made (the tag object and the
temporary branch commits it recorded) and refuses once something left the machine: a pushed
tag is public, and the way forward is then a new version, not a rewrite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.journal import DONE, StepRow
from ..engine.plan import Plan
from ..errors import UsageError
from .context import Release
from .regen import last_release_commit

PUSH_STEPS = ("source.push-fork", "post.push-upstream")


def remote_tag(release: Release, which: str) -> str | None:
    """The object id of this version's tag on the `fork` or `upstream` remote, if it has it.
    An unreachable remote is an error: "not there" must never be guessed."""
    remote, tag = release.remote(which), release.version.git_tag
    proc = release.git.run("ls-remote", remote, f"refs/tags/{tag}", check=False, timeout=60)
    if proc.returncode != 0:
        raise UsageError(f"cannot ask the {which} remote {remote!r} whether it has tag {tag}: "
                         f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}",
                         hint="check the network and `remotes` in relman.toml, then run again")
    line = proc.stdout.strip().splitlines()
    return line[0].split("\t", 1)[0] if line else None


def is_released(release: Release) -> bool:
    """A version is released when its tag is on the upstream remote, not merely in this checkout:
    a local tag from an unfinished run can still be aborted or redone."""
    return remote_tag(release, "upstream") is not None


def pushed(release: Release, steps: Mapping[str, StepRow], *, journal: bool = True) -> list[str]:
    """What of this run left the machine: finished push steps (unless `journal` is false: only
    what the remotes hold now), and the tag on either remote."""
    found = [f"step {sid} is done" for sid in PUSH_STEPS if journal and sid in steps and steps[sid].status == DONE]
    for which in ("fork", "upstream"):
        if remote_tag(release, which):
            found.append(f"the {which} remote {release.remote(which)!r} has tag {release.version.git_tag}")
    return found


def next_versions(release: Release) -> str:
    return ", ".join(v.text for v in release.version.successors()[:3])


@dataclass
class Cleanup:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "kept": self.kept}


def _outputs(steps: Mapping[str, StepRow], sid: str) -> dict[str, Any]:
    row = steps.get(sid)
    return (row.outputs or {}) if row is not None else {}


def _refuse_pushed(release: Release, steps: Mapping[str, StepRow], action: str, hint: str,
                   journal: bool = True) -> None:
    reasons = pushed(release, steps, journal=journal)
    if reasons:
        raise UsageError(f"cannot {action} the {release.version} release: something was pushed "
                         f"({'; '.join(reasons)})", hint=hint)


def _own_tag(release: Release, steps: Mapping[str, StepRow], cleanup: Cleanup) -> None:
    """Delete the version tag if it is the very tag object the journal says relman made."""
    tag = release.version.git_tag
    if release.git.tag_commit(tag) is None:
        return
    made = _outputs(steps, "source.tag").get("object")
    if made and release.git.out("rev-parse", f"refs/tags/{tag}") == made:
        release.git.run("tag", "-d", tag)
        cleanup.removed.append(f"tag {tag}")
    else:
        raise UsageError(f"tag {tag} exists but the journal does not show relman made it",
                         where=str(release.repo),
                         hint=f"inspect it with `git show {tag}`; delete it yourself (`git tag -d {tag}`) "
                              "only if it is a leftover")


def _dirty_check(release: Release, what: str) -> None:
    dirty = release.git.status_porcelain()
    if dirty:
        files = ", ".join(line[3:] for line in dirty[:10]) + (" …" if len(dirty) > 10 else "")
        raise UsageError(f"the checkout has uncommitted changes ({files}); {what} needs a clean tree",
                         where=str(release.repo),
                         hint=f"commit them on {release.git.current_branch() or 'a branch'} (a fix belongs in a "
                              "commit) or stash them, then run again")


def abort(release: Release, steps: Mapping[str, StepRow]) -> Cleanup:
    """Undo what an unfinished run made locally — its tag and temporary branch — when the journal
    proves relman made them; refuse once anything was pushed."""
    _refuse_pushed(release, steps, "abort",
                   hint=f"a pushed tag cannot be taken back: burn {release.version} and release the next version "
                        f"({next_versions(release)}); or, if only your fork has it, delete it there "
                        f"(`git push {release.remote('fork')} --delete refs/tags/{release.version.git_tag}`) "
                        "and run the abort again")
    cleanup = Cleanup()
    _own_tag(release, steps, cleanup)
    branch = release.temp_branch
    if release.git.branch_exists(branch):
        made = {_outputs(steps, "source.temp-branch").get("base"),
                last_release_commit(lambda sid: _outputs(steps, sid))}
        tip = release.git.rev(f"refs/heads/{branch}")
        if steps.get("source.temp-branch") is None or steps["source.temp-branch"].status != DONE or tip not in made:
            cleanup.kept.append(f"branch {branch}: it holds commits relman did not make (move them, then delete "
                                f"it with `git branch -D {branch}`)")
        else:
            if release.git.current_branch() == branch:
                _dirty_check(release, "abort")
                release.git.run("checkout", "-q", release.release_branch)
            release.git.run("branch", "-q", "-D", branch)
            cleanup.removed.append(f"branch {branch}")
    return cleanup


def prepare_redo(release: Release, plan: Plan, steps: Mapping[str, StepRow], step_id: str) -> Cleanup:
    """Before `--redo STEP` re-runs STEP and everything after it: take back the local git work of
    the steps being redone (proven by the journal), keeping commits the release manager added."""
    redo = plan.redo_set(step_id)
    done_irreversible = [s for s in redo if s in steps and steps[s].status == DONE and plan.steps[s].irreversible]
    if done_irreversible:
        raise UsageError(f"cannot redo {step_id}: {', '.join(done_irreversible)} already published it",
                         hint=f"burn {release.version} and release the next version ({next_versions(release)})")
    cleanup = Cleanup()
    if "source.tag" in redo:
        _refuse_pushed(release, steps, "re-tag", journal=False,
                       hint=f"if only your fork has the tag, delete it there (`git push {release.remote('fork')} "
                            f"--delete refs/tags/{release.version.git_tag} refs/heads/{release.temp_branch}`) and "
                            f"run again; a tag upstream is public: release the next version ({next_versions(release)})")
        _own_tag(release, steps, cleanup)
    git, branch = release.git, release.temp_branch
    old = last_release_commit(lambda sid: _outputs(steps, sid))
    if "source.release-commit" in redo and "source.temp-branch" not in redo and old and git.branch_exists(branch):
        tip = git.rev(f"refs/heads/{branch}")
        if not git.ok("merge-base", "--is-ancestor", old, f"refs/heads/{branch}"):
            raise UsageError(f"the release commit {old[:12]} the journal recorded is not on {branch}",
                             where=str(release.repo), hint=f"inspect `git log {branch}`; `relman abort "
                             f"{release.version}` starts over")
        _dirty_check(release, "--redo")
        if git.current_branch() != branch:
            git.run("checkout", "-q", branch)
        if tip == old:
            git.run("reset", "-q", "--hard", f"{old}^")
        else:   # the fix was committed after the release commit: replay it without the old release commit
            proc = git.run("rebase", "-q", "--onto", f"{old}^", old, branch, check=False)
            if proc.returncode != 0:
                git.run("rebase", "--abort", check=False)
                raise UsageError("your commits after the release commit do not apply without it: "
                                 + proc.stderr.strip(),
                                 where=str(release.repo), hint=f"rebase {branch} yourself so the release commit is "
                                 "last, then run again")
        cleanup.removed.append(f"release commit {old[:12]} (your later commits kept)")
    if "source.temp-branch" in redo and git.branch_exists(branch):
        sub = abort(release, steps)
        cleanup.removed += sub.removed
        if sub.kept:
            raise UsageError(f"cannot redo source.temp-branch: {sub.kept[0]}", where=str(release.repo))
    return cleanup


def failure_hint(release: Release, plan: Plan, steps: Mapping[str, StepRow], failed: list[str]) -> str | None:
    """What to do after a failed run, naming the exact command: resume, redo the tag, or abort."""
    if not failed:
        return None
    v = release.version.text
    tagged = "source.tag" in steps and steps["source.tag"].status == DONE
    after_tag = [s for s in failed if "source.tag" in plan.ancestors.get(s, ())]
    published = any(steps[s].status == DONE for s in PUSH_STEPS[1:] if s in steps)
    if published:
        return (f"the release is public; fix what failed and run `relman run {v}` again to finish. If the release "
                f"itself is broken, burn {v} and release the next version ({next_versions(release)}).")
    if tagged and after_tag:
        return (f"if the failure is in the release itself: commit the fix on {release.temp_branch}, then "
                f"`relman run {v} --redo source.release-commit` (a new release commit and tag, built and tested "
                f"again). If it was the machine, not the code: `relman run {v}` retries. `relman abort {v}` drops "
                "this run (its local tag and branch).")
    return f"fix the cause, then `relman run {v}` resumes where it stopped; `relman abort {v}` drops this run."
