"""What each release step really depends on, so a resume notices when it changed (drift).

A step's fingerprint covers the run parameters it `uses` plus what its `inputs` callable
returns. This module declares those inputs for the release workflow — the release branch the
temporary branch was cut from, the news fragments on it, the version-file and signing
settings — and each step's choice when an input changed and the change is accepted:
"rerun" (the step runs again) or "keep" (its result stands and is re-stamped). Steps whose
work lives in git (branches, commits, tags, pushes) keep theirs: re-doing them is an explicit
`relman run V --redo STEP`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine.step import Step
from ..vcs import Git


def release_branch_commit(params: Mapping[str, Any]) -> dict[str, Any]:
    """The commit at the tip of the branch the release is cut from."""
    branch = params.get("release_branch")
    if not branch:
        return {}
    return {f"branch {branch}": Git(Path(params["repo"])).rev(f"refs/heads/{branch}")}


def news_tree(params: Mapping[str, Any]) -> dict[str, Any]:
    """The news folder on the release branch (a git tree id: any fragment added, edited or removed
    changes it) and the settings that decide which files the version bump edits."""
    branch, news_dir = params.get("release_branch"), params.get("news_dir")
    config = params.get("config") or {}
    values: dict[str, Any] = {"version files": {k: config.get(k) for k in ("profile", "package", "version_files")}}
    if branch and news_dir:
        proc = Git(Path(params["repo"])).run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}:{news_dir}",
                                              check=False)
        values[f"news {news_dir} on {branch}"] = proc.stdout.strip() or None
    return values


def build_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """How the release files are built and signed: changing any of it rebuilds them."""
    config = params.get("config") or {}
    build = config.get("build") or {}
    return {"signing": config.get("signing"), "docs": build.get("docs")}


# step id -> (inputs callable or None, on_drift)
DECLARED: dict[str, tuple[Any, str]] = {
    "source.temp-branch": (release_branch_commit, "keep"),
    "source.release-commit": (news_tree, "keep"),
    "source.tag": (None, "keep"),
    "source.push-fork-preview": (None, "keep"),
    "source.push-fork": (None, "keep"),
    "build.artifacts": (build_settings, "rerun"),
}


def declare_inputs(steps: list[Step]) -> list[Step]:
    """The release steps with their real inputs and drift choices. A step not declared here keeps
    its result when it has effects (it changed git, a server or the world: doing that again is an
    explicit --redo) and re-runs when it only checks or computes."""
    result = []
    for step in steps:
        inputs, on_drift = DECLARED.get(step.id, (None, "keep" if step.effects else step.on_drift))
        if inputs is not None:
            inputs = _combined(step.inputs, inputs)
        result.append(dataclasses.replace(step, inputs=inputs or step.inputs, on_drift=on_drift))
    return result


def _combined(first, second):
    if first is None:
        return second

    def both(params: Mapping[str, Any]) -> dict[str, Any]:
        return {**first(params), **second(params)}
    return both
