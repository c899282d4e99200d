"""Build workers that share nothing with the release manager's machine, on one machine.

A real build farm's workers are other machines: they cannot read the release manager's
checkout, journal or keyring, they fetch the release tag from the fork over the network, and
they run relman from their own environment. `start_isolated_buildbot` gives the demo and the
tests the same situation on 127.0.0.1:

- the workers run as another, unprivileged user (`relman-worker`, created with `useradd` when
  missing) with its own HOME, its own virtual environment (relman installed from a wheel built
  from this relman's source) and a clean environment (PATH = its venv, then the system);
- the fork is served to them by `git daemon` on 127.0.0.1 (read-only, `git://`), so the job
  names a URL, never a path;
- the master and the drop dir stay with the release manager.

Creating a user needs root. Without it (or when the worker environment cannot be made) the
workers run as this user, with this relman, and `IsolatedBuildbot.isolation` says so.

The worker's venv is made with the system's `python3.X` (the same minor version as this one:
a worker cannot use an interpreter inside the release manager's home) and seeded with hard
links to the packages already installed next to this relman (the equivalent of a warm pip
cache: seconds instead of a minute of unpacking); relman itself is installed from the wheel.
It is kept under the worker's HOME, keyed by the source's digest, and reused while the source
does not change.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExternalServiceError, UsageError
from .buildbot_local import free_port

if TYPE_CHECKING:
    from .buildbot_executor import BuildbotExecutor
    from .buildbot_release import ReleaseBuildbot

WORKER_USER = "relman-worker"
WORKER_ENV_VERSION = "1"      # bump when the venv recipe changes


@dataclass(frozen=True)
class WorkerAccount:
    name: str
    uid: int
    gid: int
    home: Path

    def env(self, venv: Path) -> dict[str, str]:
        """A clean environment for the worker: nothing of the release manager's (no GNUPGHOME…)."""
        return {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
                "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"}


def ensure_worker_user(name: str = WORKER_USER) -> WorkerAccount:
    """The worker's account, created (`useradd`, no login shell, HOME 0700) when missing. Needs root."""
    if os.geteuid() != 0:
        raise UsageError(f"creating or using the worker user {name!r} needs root",
                         hint="run as root, or accept a same-user worker")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        done = subprocess.run([useradd, "--system", "--create-home", "--home-dir", f"/var/lib/{name}",
                               "--shell", "/usr/sbin/nologin", "--user-group", name], capture_output=True, text=True, check=False)
        if done.returncode:
            raise ExternalServiceError(f"useradd {name} failed: {(done.stderr or done.stdout).strip()}")
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise UsageError(f"the worker user {name!r} is root; it must be an unprivileged user")
    home = Path(entry.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return WorkerAccount(name, entry.pw_uid, entry.pw_gid, home)


def source_root() -> Path:
    """This relman's source tree (the folder with pyproject.toml), for building the worker's wheel."""
    import relman

    root = Path(relman.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "relman").is_dir():
        raise UsageError("relman is not running from its source tree; cannot build a wheel for the workers",
                         hint="install relman on the workers yourself and set [build] worker_command")
    return root


def source_digest(root: Path) -> str:
    digest = hashlib.sha256(WORKER_ENV_VERSION.encode())
    for path in sorted([root / "pyproject.toml", *(root / "src" / "relman").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheel(root: Path, dest: Path) -> Path:
    """`pip wheel --no-deps` of the source tree into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check",
                           str(root), "-w", str(dest)], capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("relman-*.whl"))
    if done.returncode or not wheels:
        raise ExternalServiceError(f"building the relman wheel for the workers failed: {done.stderr.strip()[-500:]}")
    return wheels[-1]


def worker_python() -> str:
    """A system interpreter of this Python's minor version that another user can run."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and _world_executable(candidate):
            return str(candidate)
    raise UsageError(f"no {name} that another user can run in /usr/local/bin or /usr/bin",
                     hint=f"install {name} system-wide (apt-get install {name}-venv)")


def _world_executable(path: Path) -> bool:
    real = path.resolve()
    if not os.stat(real).st_mode & 0o001:
        return False
    return all(os.stat(parent).st_mode & 0o001 for parent in real.parents)


def worker_venv(account: WorkerAccount, *, log: Callable[[str], None] | None = None) -> Path:
    """The worker's own virtual environment with relman (and buildbot-worker) in it; made once per source."""
    from filelock import FileLock

    root = source_root()
    venv = account.home / ".relman" / "venvs" / source_digest(root)
    if (venv / ".complete").is_file():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):       # two relman processes making the same venv wait for each other
        if (venv / ".complete").is_file():
            return venv
        return _make_worker_venv(account, root, venv, log)


def _make_worker_venv(account: WorkerAccount, root: Path, venv: Path, log: Callable[[str], None] | None) -> Path:
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    (account.home / ".relman").chmod(0o755)
    say = log or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="relman-wheel-") as tmp:
        say("building the relman wheel for the worker")
        wheel = build_wheel(root, Path(tmp))
        say(f"creating the worker's venv {venv}")
        _run([worker_python(), "-m", "venv", "--without-pip", str(venv)])
        site = Path(_run([str(venv / "bin" / "python"), "-c",
                          "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
        _seed(Path(sysconfig.get_paths()["purelib"]), site)
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile",
              "--disable-pip-version-check", str(wheel)])
    launcher = venv / "bin" / "buildbot-worker"
    launcher.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom buildbot_worker.scripts.runner import run\n"
                        "sys.exit(run())\n")
    launcher.chmod(0o755)
    for folder in (venv, *venv.parents):
        if folder == account.home:
            break
        folder.chmod(0o755)
    (venv / ".complete").write_text("ok\n")
    return venv


def _seed(source: Path, target: Path) -> None:
    """Hard-link (copy across file systems) the installed packages, leaving out relman itself."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        name = entry.name
        if name == "relman" or name.startswith(("relman-", "__editable__.relman", "__editable___relman")):
            continue
        dest = target / name
        if dest.exists():
            continue
        if entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(dest))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _run(argv: Sequence[str]) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if done.returncode:
        raise ExternalServiceError(f"{' '.join(argv[:3])}… failed (exit {done.returncode}): "
                                   f"{(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout


# ---- the fork over git:// ----------------------------------------------------------------------
@dataclass
class GitDaemon:
    base: Path
    port: int
    proc: subprocess.Popen

    def url(self, repo: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{Path(repo).resolve().relative_to(self.base).as_posix()}"


@contextmanager
def serve_git(repos: Sequence[Path], *, timeout: float = 20.0) -> Iterator[GitDaemon]:
    """`git daemon` on 127.0.0.1 serving exactly `repos` (bare repositories under one folder), read-only."""
    paths = [Path(r).resolve() for r in repos]
    base = Path(os.path.commonpath([p.parent for p in paths]))
    port = free_port()
    argv = ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
            "--export-all", "--informative-errors", "--strict-paths", *map(str, paths)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise ExternalServiceError(f"git daemon did not start on 127.0.0.1:{port}: {error.strip()}")
                time.sleep(0.05)
        yield GitDaemon(base, port, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---- the master and its isolated workers --------------------------------------------------------
@dataclass
class IsolatedBuildbot:
    """A running release build master whose workers share nothing with this machine's user."""

    release: ReleaseBuildbot
    git: GitDaemon | None
    account: WorkerAccount | None
    venv: Path | None
    isolation: str            # for people: "separate user relman-worker (…)" or "same user (…)"

    @property
    def url(self) -> str:
        return self.release.url

    @property
    def isolated(self) -> bool:
        return self.account is not None

    def fork_url(self, repo: Path) -> str:
        if self.git is None:
            raise UsageError("this master serves no fork")
        return self.git.url(repo)

    def executor(self, **kwargs: object) -> BuildbotExecutor:
        return self.release.executor(**kwargs)


def make_rm_private(paths: Sequence[Path]) -> None:
    """chmod 0700 the release manager's folders (checkout, state, keyring…): honest permissions."""
    for path in paths:
        if Path(path).is_dir():
            Path(path).chmod(0o700)


@contextmanager
def start_isolated_buildbot(work_dir: Path, workers: int | Sequence[str] = 2, *, serve: Sequence[Path] = (),
                            user: str = WORKER_USER, isolate: bool = True,
                            log: Callable[[str], None] | None = None,
                            ci_builders: Sequence[tuple[str, Sequence[str]]] = ()) -> Iterator[IsolatedBuildbot]:
    """A release build master under `work_dir` (this user) with workers as `user`, and `git daemon`
    serving the bare repositories `serve`. Falls back to same-user workers without root."""
    from .buildbot_release import start_release_buildbot

    say = log or (lambda _: None)
    account: WorkerAccount | None = None
    venv: Path | None = None
    reason = "not asked to isolate"
    if isolate:
        try:
            account = ensure_worker_user(user)
            venv = worker_venv(account, log=say)
        except (UsageError, ExternalServiceError) as error:
            account, venv, reason = None, None, error.message
    names = tuple(f"w{i}" for i in range(1, workers + 1)) if isinstance(workers, int) else tuple(workers)
    work_dir = Path(work_dir).resolve()
    with _serving(serve) as git:
        if account is not None and venv is not None:
            worker_root = Path(tempfile.mkdtemp(prefix="workers-", dir=account.home))
            os.chown(worker_root, account.uid, account.gid)
            label = (f"separate user {account.name} (uid {account.uid}, HOME {account.home}, "
                     f"own venv {venv}); the fork over git daemon")
            try:
                with start_release_buildbot(work_dir, names, worker_root=worker_root, worker_account=account,
                                            worker_venv=venv, ci_builders=ci_builders) as release:
                    yield IsolatedBuildbot(release, git, account, venv, label)
            finally:
                shutil.rmtree(worker_root, ignore_errors=True)
        else:
            say(f"workers run as this user, not isolated: {reason}")
            with start_release_buildbot(work_dir, names, ci_builders=ci_builders) as release:
                yield IsolatedBuildbot(release, git, None, None,
                                       f"same user as the release manager (NOT isolated: {reason})")


@contextmanager
def _serving(repos: Sequence[Path]) -> Iterator[GitDaemon | None]:
    if not repos:
        yield None
        return
    with serve_git(repos) as daemon:
        yield daemon


def worker_can_read(account: WorkerAccount, path: Path) -> bool:
    """Whether the worker's user can read `path` (a file, or list a folder), asked as that user."""
    probe = "import os, sys; p = sys.argv[1]; (os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1))"
    done = subprocess.run(["/usr/bin/env", "python3", "-c", probe, str(path)], user=account.uid, group=account.gid,
                          extra_groups=[], env=account.env(Path("/nonexistent")), capture_output=True, cwd="/", check=False)
    return done.returncode == 0


__all__ = ["GitDaemon", "IsolatedBuildbot", "WorkerAccount", "ensure_worker_user", "make_rm_private",
           "serve_git", "start_isolated_buildbot", "worker_can_read", "worker_venv"]
