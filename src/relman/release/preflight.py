"""Pre-flight checks: everything that must hold before the release touches anything.

They only read, so they all run in parallel. Each failure names what is wrong and what to do.
Some are gates rather than failures: an old checkout, or a magic-number mismatch before rc.
"""

from __future__ import annotations

import shutil
import time

from ..engine.step import REMOTE, Effect, Gate, Retry, Step, StepContext
from ..errors import CheckFailed, TransientError
from ..source.magic import check_magic_for_release
from .build import has_artifacts, signing_inputs
from .context import release_of
from .recovery import is_released

READINESS_CONCERN = Gate("readiness-concern", "The branch's readiness verdict is Concern. Release anyway?")
READINESS_BLOCKED = Gate("readiness-unreleasable",
                         "The branch is Unreleasable (CI or release blockers). Override and release anyway?")
OLD_REPO = Gate("old-repo", "The last commit is older than expected. Continue with this checkout?")
MAGIC = Gate("magic-number", "The bytecode magic numbers disagree. Continue anyway (allowed before rc)?")
PHASE = "preflight"


def check_tools(ctx: StepContext) -> dict:
    release = release_of(ctx)
    found = {tool: shutil.which(tool) for tool in release.settings.tools}
    missing = [tool for tool, path in found.items() if not path]
    from .regen import missing_regen_tools
    missing += missing_regen_tools(release)
    if missing:
        raise CheckFailed(f"required tools not found on PATH: {', '.join(missing)}",
                          hint="install them, or remove them from `tools` (or set other [regen] commands) "
                               "in relman.toml")
    return {"tools": found}


def check_branch(ctx: StepContext) -> dict:
    release = release_of(ctx)
    current = release.git.current_branch()
    expected = release.release_branch
    if current != expected and not (ctx.rechecking and current in release.own_branches):  # resumed: relman's own
        raise CheckFailed(f"{release.version} is released from branch {expected}, but the checkout is on "
                          f"{current or 'a detached HEAD'}", where=str(release.repo),
                          hint=f"git checkout {expected}")
    return {"branch": current, "head": release.git.head()}


def check_clean(ctx: StepContext) -> dict:
    release = release_of(ctx)
    from .gitops import explain_dirty, lock_problems  # a lock left in the tree is not a clean tree

    if (locked := lock_problems(release.git)) is not None:
        raise CheckFailed(locked, where=str(release.repo), hint="wait for that git to finish; if none runs, "
                                                                "remove the lock file and run again")
    dirty = [str(e) for e in explain_dirty(release.git, release.work_dir, release.own_branches)[1]]  # not relman's
    if dirty:
        shown = "\n".join("  " + line for line in dirty[:10]) + ("\n  …" if len(dirty) > 10 else "")
        raise CheckFailed(f"the working tree has {len(dirty)} uncommitted change(s):\n{shown}",
                          where=str(release.repo), hint="commit or stash them, then run again")
    return {"clean": True}


def check_repo_age(ctx: StepContext) -> dict:
    release = release_of(ctx)
    committed = release.git.commit_time()
    age_h = (time.time() - committed) / 3600
    limit = release.settings.git.max_repo_age_hours
    if age_h > limit:
        ctx.require_approval(OLD_REPO, f"the last commit is {age_h:.1f} hours old (limit {limit:g} h); "
                                       "pull first unless this is intended")
    return {"last_commit_age_h": round(age_h, 2)}


def check_transition_valid(ctx: StepContext) -> dict:
    """The tree's version (patchlevel.h, or the generic profile's version file) first; tags cross-check."""
    release = release_of(ctx)
    tags = release.git.tags()
    if release.version.git_tag in tags and not is_released(release):
        tags.remove(release.version.git_tag)   # a local tag nobody pushed upstream is not a release (see tag-free)
    return {"existing_release_tags": len(tags), **release.check_transition(tags)}


def check_tag_free(ctx: StepContext) -> dict:
    release = release_of(ctx)
    tag = release.version.git_tag
    commit = release.git.tag_commit(tag)
    if commit is None:
        return {"tag": tag, "exists": False}
    # A tag made by this run (recorded on its temporary branch) is not in the way.
    if release.git.branch_exists(release.temp_branch) and release.git.rev(release.temp_branch) == commit:
        return {"tag": tag, "exists": True, "commit": commit}
    if not is_released(release):
        raise CheckFailed(f"tag {tag} exists only in this checkout (at {commit[:12]}), not on the upstream remote: "
                          "an unfinished run (or someone) made it", where=str(release.repo),
                          hint=f"resume that run (`relman runs` lists them; `relman run {release.version} --run N`), "
                               f"or `relman abort {release.version}` to remove it and start again")
    raise CheckFailed(f"tag {tag} already exists (at {commit[:12]})", where=str(release.repo),
                      hint="was this version already released? choose the next version, or delete a stray tag")


def check_remotes(ctx: StepContext) -> dict:
    release = release_of(ctx)
    reached = {}
    for which in ("fork", "upstream"):
        remote = release.remote(which)
        proc = release.git.run("ls-remote", "--heads", remote, check=False, timeout=60)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            message = next((line for line in lines if line.startswith("fatal:")), lines[-1] if lines else "")
            url = release.git.remote_url(remote) or remote
            raise TransientError(f"cannot reach the {which} remote {remote!r} ({url}): "
                                 f"{message or 'exit ' + str(proc.returncode)}",
                                 hint=f"check `remotes.{which}` in relman.toml and your network or credentials")
        reached[which] = remote
    return {"remotes": reached}


def check_magic(ctx: StepContext) -> dict:
    release = release_of(ctx)
    result = check_magic_for_release(release.repo, release.version)
    if not result.applicable:
        ctx.log(result.message)
        return result.as_dict() | {"summary": result.message}
    if not result.ok:
        if release.version.is_release_candidate or release.version.is_final:
            raise CheckFailed(result.message, hint="fix the magic number before a release candidate or final")
        ctx.require_approval(MAGIC, result.message)
    return result.as_dict()


def check_signing(ctx: StepContext) -> dict:
    """Each configured signer can sign (GPG: a trial signature with the key and its passphrase;
    Sigstore: library, identity, issuer, token), found before the tag rather than after the build."""
    from ..artifacts.signing import check_signers

    signing = release_of(ctx).settings.signing
    checked = check_signers(signing.model_dump(), allow_unsigned=signing.allow_unsigned)
    for line in checked:
        ctx.log(line)
    return {"signers": checked}


def check_readiness(ctx: StepContext) -> dict:
    """The same verdict as `relman status` (not a weaker copy), stored in the journal."""
    from ..readiness.sources import ReadinessSources, assess_sources

    release = release_of(ctx)
    sources = ReadinessSources.resolve(release.settings.readiness, repo=release.repo,
                                       state_dir=ctx.resources.get("state_dir"))
    verdict = assess_sources(sources, version=release.version)[0]
    seen = verdict.as_dict()
    featured = seen["featured_problem"]
    summary = f"{verdict.branch}: {verdict.verdict}"
    if featured:
        summary += f" — {featured['description']}" + (f" ({featured['builder']})" if featured.get("builder") else "")
    ctx.log(summary)
    if verdict.verdict == "Unreleasable":
        ctx.require_approval(READINESS_BLOCKED, summary)
    elif verdict.verdict == "Concern":
        ctx.require_approval(READINESS_CONCERN, summary)
    return {"verdict": seen}


def readiness_configured(params) -> bool:
    return bool(params.get("readiness_sources"))


def preflight_steps() -> list[Step]:
    def step(sid: str, description: str, action, **kw) -> Step:
        return Step(f"preflight.{sid}", description, action, phase=PHASE, uses=("version", "repo"), **kw)

    return [
        step("tools", "the required tools are installed", check_tools, recheck=True),
        step("branch", "the checkout is on the release branch", check_branch, recheck=True),
        step("clean", "the working tree is clean", check_clean, recheck=True),
        step("repo-age", "the last commit is recent", check_repo_age),
        step("transition", "the version is a valid next release", check_transition_valid),
        step("tag-free", "the release tag does not exist yet", check_tag_free),
        step("magic-number", "the bytecode magic numbers agree", check_magic),
        step("signing", "every configured signer can sign", check_signing, condition=has_artifacts,
             inputs=signing_inputs, condition_text="for profiles that build signed release files"),
        step("remotes", "the fork and upstream remotes are reachable", check_remotes,
             effects=(Effect(REMOTE, "reads the remotes (git ls-remote)"),),
             retry=Retry(attempts=3, backoff_s=1.0), timeout_s=180, recheck=True),
        step("readiness", "the branch is releasable (CI tiers, release blockers, waivers)", check_readiness,
             condition=readiness_configured, condition_text="when a Buildbot or tracker is configured",
             effects=(Effect(REMOTE, "reads Buildbot and the issue tracker"),), timeout_s=300),
    ]

