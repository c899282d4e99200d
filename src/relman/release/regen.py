"""Regeneration before the tag: pydoc topics and `configure`, folded into the release commit.

CPython's `run_release.py` regenerates `Lib/pydoc_data/topics.py` (and `module_docs.py` where
the docs build makes one) and runs the `configure` regeneration between the release commit
and the tag, amending each result into "Python V". Here each is a step of the CPython-shaped
profiles, with its commands from the settings (`[regen.pydoc]`, `[regen.configure]`: CPython's
own by default, the sample project's in the demo):

- the commands run in the tree on the temporary branch; a failure shows the tail of the output;
- files a command produces are copied where the tree keeps them (`copy`); a produced file
  whose destination git tracks is required;
- every changed tracked file (and each copied file) is amended into the release commit, whose
  message stays "Python V"; when nothing changed the commit is left as it is.

Re-running converges: the step starts from the release commit (discarding a half-finished
attempt), regenerates and amends only when the output differs. `source.tag` tags the commit the
last of these steps leaves (`release_commit_id`).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import RegenStage
from ..engine.step import LOCAL, Effect, Step, StepContext
from ..errors import CheckFailed, ConfigError
from .context import Release, release_of
from .gitops import checkout, make_clean, record_own_writes

PHASE = "source"
STAGES = ("pydoc", "configure")
STEP_IDS = {"pydoc": "source.regen-pydoc", "configure": "source.regen-configure"}
DESCRIPTIONS = {"pydoc": "regenerate the pydoc topics (Lib/pydoc_data) into the release commit",
                "configure": "regenerate configure into the release commit"}


def stage_settings(release: Release, stage: str) -> RegenStage:
    return getattr(release.settings.regen, stage)


def missing_regen_tools(release: Release) -> list[str]:
    """For each regeneration of this profile whose tools are all missing: what it needs (preflight)."""
    if not release.cpython_like:
        return []
    missing = []
    for stage in STAGES:
        settings = stage_settings(release, stage)
        if settings.commands and settings.needs_any and not any(shutil.which(t) for t in settings.needs_any):
            missing.append(f"{' or '.join(settings.needs_any)} (for the {stage} regeneration: "
                           f"`{' '.join(settings.commands[0])}`)")
    return missing


def last_release_commit(outputs_of: Callable[[str], Mapping[str, Any]]) -> str | None:
    """The release commit as the last regeneration left it (each amends "Python V"), from the
    recorded outputs of the steps: what the tag points at, and what abort and --redo take back."""
    for sid in (STEP_IDS["configure"], STEP_IDS["pydoc"], "source.release-commit"):
        commit = (outputs_of(sid) or {}).get("commit")
        if commit:
            return str(commit)
    return None


def release_commit_id(ctx: StepContext) -> str:
    """The commit to tag: the release commit as the last regeneration left it."""
    commit = last_release_commit(ctx.dep)
    if commit is None:
        raise CheckFailed("no release commit recorded", hint="run the source.release-commit step first")
    return commit


def _inside(repo: Path, rel: str, what: str) -> Path:
    path = (repo / rel).resolve()
    if not path.is_relative_to(repo.resolve()):
        raise ConfigError(f"{what} {rel!r} is outside the repository", where="relman.toml [regen]")
    return path


def run_stage(ctx: StepContext, release: Release, stage: str) -> tuple[list[list[str]], list[str]]:
    """Run one regeneration's commands in the tree and copy what they produce; return (commands, copied).

    Also used by `post.new-main`, whose configure.ac edit needs configure regenerated too."""
    settings = stage_settings(release, stage)
    repo, git = release.repo, release.git
    cwd = _inside(repo, settings.cwd, "cwd")
    ran = []
    for argv in settings.commands:
        if not argv:
            raise ConfigError(f"an empty command in [regen.{stage}] commands", where="relman.toml")
        ctx.log(f"{stage}: running `{' '.join(argv)}` in {cwd.relative_to(repo.resolve()) or '.'}")
        ctx.run(argv, cwd=cwd, timeout=settings.timeout_s)
        ran.append(list(argv))
    tracked = set(git.out("ls-files").splitlines())
    copied = []
    for produced, dest in settings.copy_files.items():
        source, target = _inside(repo, produced, "copy source"), _inside(repo, dest, "copy destination")
        if not source.is_file():
            if dest in tracked:
                raise CheckFailed(f"{stage}: the commands did not produce {produced} (the tree keeps it as {dest})",
                                  where=str(repo), hint=f"check [regen.{stage}] in relman.toml and the command output")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(dest)
    return ran, copied


def regenerate(ctx: StepContext, stage: str) -> dict:
    release = release_of(ctx)
    git, repo = release.git, release.repo
    settings = stage_settings(release, stage)
    expected = f"Python {release.version}"
    checkout(git, release.temp_branch)
    if git.out("log", "-1", "--format=%s") != expected:
        raise CheckFailed(f"HEAD of {release.temp_branch} is not the release commit {expected!r}",
                          where=str(repo), hint="run the source.release-commit step first")
    if not settings.commands:
        ctx.log(f"{stage}: no commands configured ([regen.{stage}] commands): nothing regenerated")
        return {"commit": git.head(), "stage": stage, "commands": [], "changed": [], "configured": False}
    make_clean(git, release.work_dir, doing=f"regenerate {stage}",
               note=lambda kind, data: ctx.log(str(data.get("message", kind))))
    ran, copied = run_stage(ctx, release, stage)
    record_own_writes(git, release.work_dir, ctx.step.id)
    if copied:
        git.run("add", "--", *copied)
    git.run("add", "-u")
    changed = git.out("diff", "--cached", "--name-only").splitlines()
    if changed:
        git.run("commit", "-q", "--amend", "--no-edit")
        ctx.log(f"{stage}: amended into the release commit: {', '.join(changed)}")
    else:
        ctx.log(f"{stage}: regenerated; nothing changed")
    return {"commit": git.head(), "stage": stage, "commands": ran, "changed": changed, "copied": copied,
            "configured": True}


def _cpython_like(params) -> bool:
    from ..profile import uses_cpython_rules  # the one profile rule
    return uses_cpython_rules(str(params.get("profile")))


def regen_steps() -> list[Step]:
    steps = []
    previous = "source.release-commit"
    for stage in STAGES:
        sid = STEP_IDS[stage]
        steps.append(Step(sid, DESCRIPTIONS[stage], functools.partial(regenerate, stage=stage),
                          deps=(previous,), phase=PHASE, uses=("version", "profile"),
                          condition=_cpython_like, condition_text="CPython-shaped profiles (cpython, demo)",
                          timeout_s=7200,
                          effects=(Effect(LOCAL, "runs the regeneration commands and amends the release "
                                                 "commit \"Python V\""),)))
        previous = sid
    return steps


LAST_STEP = STEP_IDS["configure"]
