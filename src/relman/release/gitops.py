"""Git operations shared by the source and post-release steps: idempotent by construction."""

from __future__ import annotations

from ..errors import CheckFailed
from ..vcs import Git


def subjects_since(git: Git, base: str, branch: str) -> list[str]:
    return git.out("log", "--format=%s", f"{base}..{branch}").splitlines()


def checkout(git: Git, branch: str) -> None:
    if git.current_branch() != branch:
        git.run("checkout", "-q", branch)


def discard_partial_work(git: Git, branch: str) -> None:
    """After a crash mid-step on our own temporary branch, start the step from its commit again."""
    if git.current_branch() != branch:
        raise CheckFailed(f"expected to be on {branch}, found {git.current_branch() or 'a detached HEAD'}",
                          where=str(git.repo), hint=f"git checkout {branch} and run again")
    if git.status_porcelain():
        git.run("reset", "-q", "--hard", "HEAD")
        git.run("clean", "-q", "-fd")


def push_refspecs(git: Git, remote: str, refspecs: list[str], *, dry_run: bool) -> str:
    args = ["push", "--porcelain"] + (["--dry-run"] if dry_run else []) + [remote, *refspecs]
    proc = git.run(*args, timeout=300)
    return (proc.stdout + proc.stderr).strip()


def remote_has(git: Git, remote: str, expected: dict[str, str]) -> bool:
    """Does the remote hold exactly these refs (ref name → local object id)?"""
    refs = git.remote_refs(remote)
    return all(refs.get(ref) == sha for ref, sha in expected.items())


def local_ref_ids(git: Git, refs: list[str]) -> dict[str, str]:
    return {ref: git.out("rev-parse", ref) for ref in refs}
