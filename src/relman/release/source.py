"""Source preparation: the temporary branch, the release commit, the tag, the push to the fork.

The release commit is one commit "Python V" holding the released news, the version bump and
the docs `next` replacement; it is tagged as is (no amend after tagging).
"""

from __future__ import annotations

from ..engine.step import LOCAL, REMOTE, Effect, Gate, Retry, Step, StepContext
from ..errors import CheckFailed
from .context import release_of
from .gitops import (
    checkout,
    commit_own_work,
    committed,
    describe_push,
    local_ref_ids,
    make_clean,
    push_refspecs,
    record_own_writes,
    remote_has,
)
from .regen import LAST_STEP as REGEN_LAST
from .regen import release_commit_id, regen_steps

PHASE = "source"
PUSH_FORK = Gate("push-fork", "Push the release branch and tag to your fork?")


def temp_branch_probe(ctx: StepContext) -> dict | None:
    """Read-only: the branch exists (the steps after it check it out themselves)."""
    release = release_of(ctx)
    if release.git.branch_exists(release.temp_branch):
        return {"branch": release.temp_branch}
    return None


def create_temp_branch(ctx: StepContext) -> dict:
    release = release_of(ctx)
    release.git.run("checkout", "-q", "-b", release.temp_branch)
    return {"branch": release.temp_branch, "base": release.git.head()}


RELEASE_COMMIT = "source.release-commit"


def release_commit_probe(ctx: StepContext) -> dict | None:
    """Read-only, by content: the temporary branch holds the commit with exactly the parent and
    tree relman recorded just before committing."""
    release = release_of(ctx)
    commit = committed(release.git, release.work_dir, RELEASE_COMMIT, release.temp_branch)
    return {"commit": commit} if commit else None


def make_release_commit(ctx: StepContext) -> dict:
    release = release_of(ctx)
    git, version, record = release.git, release.version, release.work_dir

    def note(kind, data):
        ctx.log(str(data.get("message", kind)))

    checkout(git, release.temp_branch, record_dir=record, note=note)
    # Only what relman recorded writing in an earlier attempt is undone; anything else stops here.
    make_clean(git, record, doing="make the release commit", note=note)
    cycle = ctx.resources.get("release_cycle")
    # Planned before anything is written: an unknown release-schedule PEP stops here, tree untouched.
    edits = release.plan_bump(version, release_cycle=cycle)
    if release.branches_at_feature_freeze:  # the new main's README needs X.Y+1's PEP: know it now
        release.plan_bump(version.next_minor, release_cycle=cycle)
    released_news = None
    if release.news_dir.is_dir():
        from ..news import release_news
        from ..news.sections import sections_for

        released_news = release_news(release.news_dir, version.text,
                                     sections=sections_for(release.settings.news.blurb_version))
        record_own_writes(git, record, RELEASE_COMMIT)
        ctx.log(f"news released into {released_news.relative_to(release.repo)}")
    changed = edits.apply()
    record_own_writes(git, record, RELEASE_COMMIT)
    ctx.log(f"version bumped in {len(changed)} file(s)")
    notes = release.report_notes(ctx, edits)
    commit = commit_own_work(git, record, RELEASE_COMMIT, f"Python {version}")
    return {"commit": commit, "files": sorted(str(p.relative_to(release.repo)) for p in changed),
            "news": str(released_news.relative_to(release.repo)) if released_news else None, "notes": notes}


def tag_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    tag = release.version.git_tag
    commit = release.git.tag_commit(tag)
    if commit is None:
        return None
    expected = release_commit_id(ctx)
    if commit != expected:
        raise CheckFailed(f"tag {tag} exists but points at {commit[:12]}, not the release commit "
                          f"{str(expected)[:12]}", where=str(release.repo),
                          hint=f"inspect it with `git show {tag}`; delete it only if it is a leftover")
    return {"tag": tag, "commit": commit, "object": release.git.out("rev-parse", tag)}


def create_tag(ctx: StepContext) -> dict:
    release = release_of(ctx)
    tag, commit = release.version.git_tag, release_commit_id(ctx)
    sign = release.settings.git.sign_tags
    args = []
    if sign == "ssh":
        args += ["-c", "gpg.format=ssh"]
    args += ["tag"]
    if sign != "none":
        args += ["-s"] + (["-u", release.settings.git.signing_key] if release.settings.git.signing_key else [])
    else:
        args += ["-a"]
    release.git.run(*args, "-m", f"Python {release.version}", tag, commit)
    return {"tag": tag, "commit": commit, "object": release.git.out("rev-parse", tag), "signed": sign}


def fork_refspecs(ctx: StepContext) -> list[str]:
    release = release_of(ctx)
    return [f"refs/heads/{release.temp_branch}:refs/heads/{release.temp_branch}",
            f"refs/tags/{release.version.git_tag}:refs/tags/{release.version.git_tag}"]


def preview_fork_push(ctx: StepContext) -> dict:
    release = release_of(ctx)
    text = push_refspecs(release.git, release.remote("fork"), fork_refspecs(ctx), dry_run=True)
    ctx.log("dry run: " + " | ".join(line for line in text.splitlines() if line.strip()))
    return {"dry_run": text}


def fork_push_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    refs = [f"refs/heads/{release.temp_branch}", f"refs/tags/{release.version.git_tag}"]
    if remote_has(release.git, release.remote("fork"), local_ref_ids(release.git, refs)):
        return {"pushed": refs, "remote": release.remote("fork")}
    return None


def fork_push_detail(ctx: StepContext) -> str:
    """What the push-fork gate approves: version, remote URL, exact refs, the dry run."""
    release = release_of(ctx)
    refs = [f"refs/heads/{release.temp_branch}", f"refs/tags/{release.version.git_tag}"]
    dry_run = ctx.dep("source.push-fork-preview").get("dry_run")
    return f"release: {release.version}\n" + describe_push(release.git, release.remote("fork"), refs, dry_run)


def push_to_fork(ctx: StepContext) -> dict:
    release = release_of(ctx)
    push_refspecs(release.git, release.remote("fork"), fork_refspecs(ctx), dry_run=False)
    return {"pushed": fork_refspecs(ctx), "remote": release.remote("fork")}


def source_steps() -> list[Step]:
    preflight = ("preflight.tools", "preflight.branch", "preflight.clean", "preflight.repo-age",
                 "preflight.transition", "preflight.tag-free", "preflight.magic-number", "preflight.remotes",
                 "preflight.readiness", "preflight.signing")
    return [
        Step("source.temp-branch", "create the temporary release branch", create_temp_branch,
             deps=preflight, phase=PHASE, probe=temp_branch_probe, uses=("version",),
             effects=(Effect(LOCAL, "creates and checks out a local branch"),)),
        Step("source.release-commit", "release commit: news released, version bumped, docs `next` replaced",
             make_release_commit, deps=("source.temp-branch",), phase=PHASE, probe=release_commit_probe,
             uses=("version",), effects=(Effect(LOCAL, "edits files and commits \"Python V\""),)),
        *regen_steps(),   # pydoc topics and configure, amended into the release commit before the tag
        Step("source.tag", "annotated release tag", create_tag, deps=("source.release-commit", REGEN_LAST), phase=PHASE,
             probe=tag_probe, uses=("version", "sign_tags"),
             effects=(Effect(LOCAL, "creates the tag vV (signed when configured)"),)),
        Step("source.push-fork-preview", "dry run of the push to the fork", preview_fork_push,
             deps=("source.tag",), phase=PHASE, uses=("version", "fork"), retry=Retry(attempts=3),
             timeout_s=300),
        Step("source.push-fork", "push the release branch and tag to the fork", push_to_fork,
             deps=("source.push-fork-preview",), phase=PHASE, probe=fork_push_probe, gate=PUSH_FORK,
             gate_detail=fork_push_detail,
             uses=("version", "fork"), retry=Retry(attempts=3, backoff_s=2.0), timeout_s=600,
             effects=(Effect(REMOTE, "pushes the temporary branch and the tag to the fork"),)),
    ]
