"""After the release is built and published: merge the tag back, the `+`/`+dev` bump "Post V",
at beta 1 the new X.Y branch and main bumped to the next a0, the push upstream (a gate,
irreversible), and removing the temporary branch.

These steps share one working tree, so they form a chain; each probes whether it is done.
"""

from __future__ import annotations

from ..engine.step import IRREVERSIBLE, LOCAL, Effect, Gate, Retry, Step, StepContext
from .context import Release, release_of
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

PHASE = "post"
PUSH_UPSTREAM = Gate("push-upstream", "Push the release to upstream? This cannot be undone.")


def merge_target(ctx: StepContext) -> str:
    release = release_of(ctx)
    return "main" if release.branches_at_feature_freeze else release.release_branch


def merge_back_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    target = merge_target(ctx)
    if release.git.ok("merge-base", "--is-ancestor", release.version.git_tag, target):
        return {"branch": target, "head": release.git.rev(target)}
    return None


def _switch(ctx: StepContext, release: Release, branch: str) -> None:
    """Check out `branch`, finishing or undoing what an interrupted earlier attempt of relman
    provably left half-done (a checkout or merge towards one of its branches or the tag)."""
    def note(kind, data):
        ctx.log(str(data.get("message", kind)))

    checkout(release.git, branch, record_dir=release.work_dir, note=note)
    make_clean(release.git, release.work_dir, doing=ctx.step.description, targets=release.own_branches, note=note)


def merge_back(ctx: StepContext) -> dict:
    release = release_of(ctx)
    git, target = release.git, merge_target(ctx)
    _switch(ctx, release, target)
    if git.ok("rev-parse", "-q", "--verify", "MERGE_HEAD"):
        git.run("merge", "--abort")   # a merge of ours, interrupted before it committed
    git.run("merge", "-q", "--no-edit", release.version.git_tag)
    return {"branch": target, "head": git.head()}


def new_branch_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    name = release.version.basic_version
    return {"branch": name, "head": release.git.rev(name)} if release.git.branch_exists(name) else None


def create_new_branch(ctx: StepContext) -> dict:
    release = release_of(ctx)
    name = release.version.basic_version
    release.git.run("branch", name, release.version.git_tag)
    return {"branch": name, "head": release.git.rev(name)}


def _commit_probe(ctx: StepContext, branch: str) -> dict | None:
    """Read-only, by content: `branch` holds the commit with the parent and tree recorded."""
    release = release_of(ctx)
    commit = committed(release.git, release.work_dir, ctx.step.id, branch)
    return {"branch": branch, "head": release.git.rev(branch)} if commit else None


def dev_bump_probe(ctx: StepContext) -> dict | None:
    return _commit_probe(ctx, release_of(ctx).post_release_branch)


def dev_bump(ctx: StepContext) -> dict:
    release = release_of(ctx)
    git, branch = release.git, release.post_release_branch
    _switch(ctx, release, branch)
    changed = release.plan_bump(release.version, done=True).apply()
    record_own_writes(git, release.work_dir, ctx.step.id)
    commit_own_work(git, release.work_dir, ctx.step.id, f"Post {release.version}")
    return {"branch": branch, "head": git.head(), "files": sorted(str(p.relative_to(release.repo)) for p in changed)}


def new_main_probe(ctx: StepContext) -> dict | None:
    return _commit_probe(ctx, "main")


def bump_main(ctx: StepContext) -> dict:
    release = release_of(ctx)
    git, nxt = release.git, release.version.next_minor
    _switch(ctx, release, "main")
    edits = release.plan_bump(nxt, release_cycle=ctx.resources.get("release_cycle"))
    configure_ac_moved = "configure.ac" in edits.changed()
    changed = edits.apply()
    record_own_writes(git, release.work_dir, ctx.step.id)
    if configure_ac_moved and release.cpython_like and release.settings.regen.configure.commands:
        from .regen import run_stage  # configure.ac moved to the new version: configure follows
        ran, _ = run_stage(ctx, release, "configure")
        record_own_writes(git, release.work_dir, ctx.step.id)
        edits.notes = [n for n in edits.notes if not (n.path == "configure" and n.kind == "follow-up")]
        edits.note("configure", "regenerated: " + "; ".join(" ".join(argv) for argv in ran), "info")
    notes = release.report_notes(ctx, edits)
    commit_own_work(git, release.work_dir, ctx.step.id, f"Python {nxt}")
    return {"branch": "main", "version": nxt.text, "head": git.head(),
            "files": sorted(str(p.relative_to(release.repo)) for p in changed), "notes": notes}


def upstream_refs(ctx: StepContext) -> list[str]:
    release = release_of(ctx)
    return [f"refs/heads/{b}" for b in release.upstream_branches] + [f"refs/tags/{release.version.git_tag}"]


def preview_upstream_push(ctx: StepContext) -> dict:
    release = release_of(ctx)
    specs = [f"{ref}:{ref}" for ref in upstream_refs(ctx)]
    text = push_refspecs(release.git, release.remote("upstream"), specs, dry_run=True)
    ctx.log("dry run: " + " | ".join(line for line in text.splitlines() if line.strip()))
    return {"dry_run": text}


def upstream_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    refs = upstream_refs(ctx)
    if remote_has(release.git, release.remote("upstream"), local_ref_ids(release.git, refs)):
        return {"pushed": refs, "remote": release.remote("upstream")}
    return None


def upstream_push_detail(ctx: StepContext) -> str:
    """What the push-upstream gate approves: version, remote URL, exact refs, the dry run."""
    release = release_of(ctx)
    dry_run = ctx.dep("post.push-upstream-preview").get("dry_run")
    return (f"release: {release.version}\n"
            + describe_push(release.git, release.remote("upstream"), upstream_refs(ctx), dry_run))


def push_upstream(ctx: StepContext) -> dict:
    release = release_of(ctx)
    specs = [f"{ref}:{ref}" for ref in upstream_refs(ctx)]
    push_refspecs(release.git, release.remote("upstream"), specs, dry_run=False)
    return {"pushed": upstream_refs(ctx), "remote": release.remote("upstream")}


def temp_branch_gone(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    if release.git.branch_exists(release.temp_branch):
        return None
    return {"removed": release.temp_branch}


def remove_temp_branch(ctx: StepContext) -> dict:
    release = release_of(ctx)
    _switch(ctx, release, release.post_release_branch)
    release.git.run("branch", "-q", "-D", release.temp_branch)
    return {"removed": release.temp_branch, "checked_out": release.post_release_branch}


def is_b1(params) -> bool:
    """Beta 1 of a CPython-like project: the X.Y branch is created and main moves on."""
    from ..version import Version

    return params.get("profile") != "generic" and Version.parse(params["version"]).is_feature_freeze


def post_steps(after: tuple[str, ...]) -> list[Step]:
    """The post-release chain, starting once every step in `after` is done."""
    local = (Effect(LOCAL, "commits on local branches"),)
    return [
        Step("post.merge-back", "merge the tag back into its branch", merge_back, deps=after, phase=PHASE,
             probe=merge_back_probe, uses=("version",), effects=local),
        Step("post.new-branch", "create the X.Y maintenance branch (beta 1)", create_new_branch,
             deps=("post.merge-back",), phase=PHASE, probe=new_branch_probe, condition=is_b1,
             condition_text="only for beta 1 (feature freeze)", uses=("version",), effects=local),
        Step("post.dev-bump", "post-release commit \"Post V\" (+ / +dev suffix)", dev_bump,
             deps=("post.merge-back", "post.new-branch"), phase=PHASE, probe=dev_bump_probe, uses=("version",),
             effects=local),
        Step("post.new-main", "bump main to the next X.Y.0a0 with a What's New skeleton (beta 1)", bump_main,
             deps=("post.dev-bump",), phase=PHASE, probe=new_main_probe, condition=is_b1,
             condition_text="only for beta 1 (feature freeze)", uses=("version",), effects=local),
        Step("post.push-upstream-preview", "dry run of the push upstream", preview_upstream_push,
             deps=("post.dev-bump", "post.new-main"), phase=PHASE, uses=("version", "upstream"),
             retry=Retry(attempts=3), timeout_s=300),
        Step("post.push-upstream", "push the branches and the tag upstream", push_upstream,
             deps=("post.push-upstream-preview",), phase=PHASE, probe=upstream_probe, gate=PUSH_UPSTREAM,
             gate_detail=upstream_push_detail,
             uses=("version", "upstream"), retry=Retry(attempts=3, backoff_s=2.0), timeout_s=600,
             effects=(Effect(IRREVERSIBLE, "publishes the release branch(es) and tag upstream"),)),
        Step("post.remove-temp-branch", "remove the temporary release branch", remove_temp_branch,
             deps=("post.push-upstream",), phase=PHASE, probe=temp_branch_gone, uses=("version",),
             effects=(Effect(LOCAL, "deletes the local temporary branch"),)),
    ]
