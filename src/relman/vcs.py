"""git, through one small wrapper: every git call relman makes goes through `Git`.

Failures become `GitError` with the command, the repository and git's own message, so a
person can see what went wrong and where.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .errors import RelmanError


class GitError(RelmanError):
    exit_code = 1


# Keep git from reading the user's pager, editor or terminal prompts in automated runs.
_QUIET_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat", "LC_ALL": "C"}


@dataclass
class Git:
    repo: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.repo = Path(self.repo)

    def run(self, *args: str, check: bool = True, input: str | bytes | None = None,
            text: bool = True, timeout: float | None = 600) -> subprocess.CompletedProcess:
        env = {**os.environ, **_QUIET_ENV, **self.env}
        try:
            # its own process group, killed with the step that runs it (timeout, Ctrl-C)
            proc = procs.run(["git", *args], cwd=self.repo, env=env, input=input, text=text, timeout=timeout)
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git and try again") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"`git {' '.join(args)}` did not finish in {timeout:.0f} s",
                           where=str(self.repo)) from None
        if check and proc.returncode != 0:
            err = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
            raise GitError(f"`git {' '.join(args)}` failed: {err.strip() or 'exit ' + str(proc.returncode)}",
                           where=str(self.repo))
        return proc

    def out(self, *args: str, **kw) -> str:
        return self.run(*args, **kw).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    # ---- queries -------------------------------------------------------------------------
    def is_repo(self) -> bool:
        return self.repo.is_dir() and self.ok("rev-parse", "--git-dir")

    def current_branch(self) -> str:
        return self.out("branch", "--show-current")

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")

    def rev(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.strip() or None

    def tags(self) -> list[str]:
        return [t for t in self.out("tag", "--list").splitlines() if t]

    def tag_commit(self, tag: str) -> str | None:
        return self.rev(f"refs/tags/{tag}")

    def branch_exists(self, name: str) -> bool:
        return self.ok("show-ref", "--verify", "--quiet", f"refs/heads/{name}")

    def status_porcelain(self) -> list[str]:
        return [line for line in self.out("status", "--porcelain").splitlines() if line]

    def commit_time(self, ref: str = "HEAD") -> int:
        return int(self.out("log", "-1", "--format=%ct", ref))

    def remote_url(self, remote: str) -> str | None:
        proc = self.run("remote", "get-url", remote, check=False)
        return proc.stdout.strip() or None

    def remote_refs(self, remote: str) -> dict[str, str]:
        """ref name → sha on the remote (`git ls-remote`)."""
        refs = {}
        for line in self.out("ls-remote", remote).splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        return refs

    # ---- changes -------------------------------------------------------------------------
    def add(self, paths: Sequence[str] = ("-A",)) -> None:
        self.run("add", *paths)

    def commit(self, message: str, *, allow_empty: bool = False) -> str:
        args = ["commit", "-q", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        self.run(*args)
        return self.head()

    # ---- locks left behind ---------------------------------------------------------------
    def git_dir(self) -> Path:
        return Path(self.out("rev-parse", "--absolute-git-dir"))

    def lock_files(self) -> list[Path]:
        """git's lock files in this repository (`index.lock`, `HEAD.lock`, ref locks…)."""
        root = self.git_dir()
        found = [p for p in root.glob("*.lock") if p.is_file()]
        refs = root / "refs"
        if refs.is_dir():
            found += [p for p in refs.rglob("*.lock") if p.is_file()]
        return sorted(found)

    def live_git_processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of running git processes working in this repository: their cwd
        is inside it, or they hold one of its files open. Linux /proc; empty elsewhere."""
        roots = {str(self.repo.resolve()), str(self.git_dir().resolve())}
        found = []
        for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if not (entry / "comm").read_text().strip().startswith("git"):
                    continue
                places = [os.readlink(entry / "cwd")]
                try:
                    places += [os.readlink(fd) for fd in (entry / "fd").iterdir()]
                except OSError:
                    pass
                if any(p == r or p.startswith(r + os.sep) for p in places for r in roots):
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    found.append((int(entry.name), cmdline.strip()))
            except OSError:
                continue   # it ended while we looked
        return found
