"""Git operations shared by the source and post-release steps: idempotent, and never destructive.

relman never resets or cleans a checkout wholesale. What it writes before a commit is recorded
(path → blob id, `<work_dir>/own-writes/<step>.json`) so a retry can undo exactly that and
nothing else; what it is about to commit is recorded (parent and tree id) so a probe can tell,
by content, that the commit is already there. Any other change in the working tree stops the
step with the list of files and what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailed
from ..vcs import Git

Note = Callable[[str, Mapping[str, Any]], None]


# ---- what is dirty, and whose it is ---------------------------------------------------------

@dataclass(frozen=True)
class Dirty:
    code: str          # porcelain XY
    path: str

    @property
    def untracked(self) -> bool:
        return self.code == "??"

    def __str__(self) -> str:
        return f"{self.code} {self.path}"


def dirty_entries(git: Git) -> list[Dirty]:
    """Every changed, staged, deleted or untracked path (ignored files excluded)."""
    raw = git.run("status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    items, parts, i = [], raw.split("\0"), 0
    while i < len(parts):
        entry = parts[i]
        i += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        items.append(Dirty(code, path))
        if code[0] in "RC":       # a rename or copy: the next field is the old path
            items.append(Dirty(code, parts[i]))
            i += 1
    return items


def worktree_blobs(git: Git, paths: Iterable[str]) -> dict[str, str | None]:
    """path → the blob id its current content would have in git (None: the file is gone)."""
    paths = list(paths)
    present = [p for p in paths if (git.repo / p).is_file() or (git.repo / p).is_symlink()]
    ids = git.out("hash-object", "--", *present).splitlines() if present else []
    found: dict[str, str | None] = dict.fromkeys(paths)
    found.update(zip(present, ids, strict=True))
    return found


def tree_blobs(git: Git, treeish: str, paths: Iterable[str]) -> dict[str, str | None]:
    """path → its blob id in `treeish` (None: not there)."""
    paths = list(paths)
    found: dict[str, str | None] = dict.fromkeys(paths)
    if not paths:
        return found
    listing = git.run("ls-tree", "-z", "-r", "--full-tree", treeish, "--", *paths, check=False).stdout
    for line in listing.split("\0"):
        if "\t" in line:
            meta, path = line.split("\t", 1)
            found[path] = meta.split()[2]
    return found


def own_writes_path(record_dir: Path, step_id: str) -> Path:
    return record_dir / "own-writes" / f"{step_id}.json"


def record_own_writes(git: Git, record_dir: Path, step_id: str) -> None:
    """After the step wrote into a tree that was clean: remember every change as its own."""
    entries = dirty_entries(git)
    record = {"head": git.head(), "paths": worktree_blobs(git, [e.path for e in entries])}
    _write_json(own_writes_path(record_dir, step_id), record)


def forget_own_writes(record_dir: Path, step_id: str) -> None:
    own_writes_path(record_dir, step_id).unlink(missing_ok=True)


def _own_records(git: Git, record_dir: Path) -> dict[str, str | None]:
    """path → blob id of writes relman recorded on top of the current HEAD."""
    own: dict[str, str | None] = {}
    folder = record_dir / "own-writes"
    if not folder.is_dir():
        return own
    head = git.head()
    for path in sorted(folder.glob("*.json")):
        record = _read_json(path)
        if record and record.get("head") == head:
            own.update(record.get("paths") or {})
    return own


def explain_dirty(git: Git, record_dir: Path, targets: Iterable[str] = (), *,
                  interrupted_git: bool = False) -> tuple[list[Dirty], list[Dirty]]:
    """Split the dirty paths into those relman can prove are its own, and the others.

    Its own: the content is exactly what relman recorded writing (same blob id, or deleted
    where it deleted), or exactly a target branch's content (a checkout or fast-forward it was
    making when it was killed). With `interrupted_git` (a git of relman's was just found killed
    mid-operation: it left its lock), a tracked file that is simply missing is also its own
    (git removes a file before writing its new version). Undoing those loses nothing;
    anything else is the person's."""
    entries = dirty_entries(git)
    if not entries:
        return [], []
    paths = [e.path for e in entries]
    now = worktree_blobs(git, paths)
    own = _own_records(git, record_dir)
    target_views = [tree_blobs(git, t, paths) for t in targets if t and git.rev(t)]
    in_head = tree_blobs(git, "HEAD", paths) if interrupted_git else {}
    mine: list[Dirty] = []
    others: list[Dirty] = []
    for entry in entries:
        blob = now[entry.path]
        proven = (entry.path in own and own[entry.path] == blob) or any(
            view[entry.path] == blob for view in target_views) or (
            blob is None and in_head.get(entry.path) is not None)
        (mine if proven else others).append(entry)
    return mine, others


def undo_own(git: Git, entries: list[Dirty]) -> None:
    """Put back HEAD's version of paths relman proved it wrote; nothing else is touched."""
    if not entries:
        return
    paths = sorted({e.path for e in entries})
    in_head = tree_blobs(git, "HEAD", paths)
    tracked = [p for p in paths if in_head[p] is not None]
    new = [p for p in paths if in_head[p] is None]
    if new:
        git.run("rm", "-q", "--cached", "--ignore-unmatch", "-f", "--", *new)
        for path in new:
            (git.repo / path).unlink(missing_ok=True)
    if tracked:
        git.run("checkout", "-q", "HEAD", "--", *tracked)


def refuse_foreign(git: Git, others: list[Dirty], *, doing: str) -> CheckFailed:
    branch = git.current_branch() or "a detached HEAD"
    shown = "\n".join(f"  {e}" for e in others[:20]) + ("\n  …" if len(others) > 20 else "")
    return CheckFailed(f"cannot {doing}: the working tree has {len(others)} change(s) relman did not make "
                       f"(on {branch}):\n{shown}", where=str(git.repo),
                       hint=f"relman never discards your work: commit them on {branch} (`git add` + `git commit`) "
                            "if they belong in the release, or stash them (`git stash -u`), then run again")


def make_clean(git: Git, record_dir: Path, *, doing: str, targets: Iterable[str] = (), note: Note | None = None) -> None:
    """Undo relman's own provable leftovers; refuse (listing them) if anything else is dirty."""
    mine, others = explain_dirty(git, record_dir, targets)
    if others:
        raise refuse_foreign(git, others, doing=doing)
    if mine:
        undo_own(git, mine)
        if note is not None:
            note("git-undo-own-writes", {"message": f"undid {len(mine)} change(s) relman made before it was stopped",
                                         "paths": [e.path for e in mine]})


# ---- commits whose content is known before they exist --------------------------------------

def commit_intent_path(record_dir: Path, step_id: str) -> Path:
    return record_dir / "commits" / f"{step_id}.json"


def commit_own_work(git: Git, record_dir: Path, step_id: str, message: str) -> str:
    """Stage everything (relman's own writes only: the tree was clean before), record the
    parent and tree the commit will have, then commit."""
    git.add()
    tree = git.out("write-tree")
    _write_json(commit_intent_path(record_dir, step_id), {"parent": git.head(), "tree": tree, "message": message})
    commit = git.commit(message)
    forget_own_writes(record_dir, step_id)
    return commit


def committed(git: Git, record_dir: Path, step_id: str, branch: str) -> str | None:
    """Read-only: the commit on `branch` with the parent and tree relman recorded, if it is there."""
    intent = _read_json(commit_intent_path(record_dir, step_id))
    head = git.rev(branch)
    if not intent or head is None:
        return None
    for line in git.out("log", "--max-count=50", "--format=%H %T %P", head).splitlines():
        commit, tree, *parents = line.split()
        if tree == intent["tree"] and parents[:1] == [intent["parent"]]:
            return commit
    return None


# ---- moving between branches -------------------------------------------------------------

def checkout(git: Git, branch: str, *, record_dir: Path | None = None, note: Note | None = None) -> None:
    """Check out `branch`. A half-finished checkout (relman killed during it: files already
    switched, HEAD not yet) is finished; the person's own changes stop it instead."""
    if git.current_branch() == branch:
        return
    if record_dir is not None:
        make_clean(git, record_dir, doing=f"check out {branch}", targets=[branch], note=note)
    git.run("checkout", "-q", branch)


# ---- locks and half-done operations left by a killed git -----------------------------------

def clear_stale_locks(git: Git, note: Note) -> list[str]:
    """Remove git lock files no live process holds (relman's own git, killed with it; the caller
    holds the run lock); report those a live git holds and leave them. Returns what it removed."""
    locks = git.lock_files()
    if not locks:
        return []
    holders = git.live_git_processes()
    removed = []
    for lock in locks:
        relative = os.path.relpath(lock, git.repo)
        if holders:
            note("git-lock-held", {"message": f"{relative} is held by a running git: "
                                              + "; ".join(f"pid {pid} ({cmd})" for pid, cmd in holders),
                                   "lock": relative, "pids": [pid for pid, _ in holders]})
            continue
        lock.unlink(missing_ok=True)
        removed.append(relative)
        note("git-stale-lock-cleared", {"message": f"removed stale {relative} (no git process was running; "
                                                   "left by an interrupted run)", "lock": relative})
    return removed


def lock_problems(git: Git) -> str | None:
    """A sentence about lock files in the way, for checks that must not pass over them."""
    locks = git.lock_files()
    if not locks:
        return None
    names = ", ".join(os.path.relpath(p, git.repo) for p in locks)
    holders = git.live_git_processes()
    if holders:
        who = "; ".join(f"pid {pid} ({cmd})" for pid, cmd in holders)
        return f"git lock file(s) {names} held by a running git: {who}"
    return f"stale git lock file(s) {names} (no git process is running)"


def recover_checkout(git: Git, record_dir: Path, targets: Iterable[str], note: Note, *,
                     interrupted_git: bool = False) -> None:
    """After a kill: finish undoing what relman provably left half-done (its recorded writes, a
    checkout or merge towards one of `targets`). The person's changes are left alone; the step
    that needs a clean tree reports them."""
    if git.lock_files():
        return      # a live git holds a lock: nothing is touched (reported by clear_stale_locks)
    mine, others = explain_dirty(git, record_dir, targets, interrupted_git=interrupted_git)
    if mine and not others:
        undo_own(git, mine)
        note("git-half-done-undone", {"message": f"put back {len(mine)} file(s) an interrupted git operation of "
                                                 "relman left half-done", "paths": [e.path for e in mine]})


# ---- remotes -------------------------------------------------------------------------------

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


def describe_push(git: Git, remote: str, refs: list[str], dry_run: str | None) -> str:
    """What a push gate approves: the remote and its URL, each ref with the object it will
    point at, and the dry run's own words."""
    lines = [f"remote: {remote} ({git.remote_url(remote) or 'no URL configured'})", "refs:"]
    for ref in refs:
        target = git.run("rev-parse", "--verify", "--quiet", ref, check=False).stdout.strip()
        lines.append(f"  {ref} → {target or '(missing)'}")
    if dry_run:
        lines.append("dry run said:")
        lines += [f"  {line}" for line in dry_run.splitlines() if line.strip()]
    return "\n".join(lines)


# ---- small files ---------------------------------------------------------------------------

def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(temp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
