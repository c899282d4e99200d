"""A real Buildbot master (and real workers) on 127.0.0.1, started and stopped from Python.

Used by the tests, the readiness benchmark and rehearsals (`relman demo --executor buildbot`):
it is the same Buildbot that runs CPython's CI, not a stand-in. The recipe:

1. two free loopback ports (www/REST and the worker protocol, pb);
2. `buildbot create-master`, then the caller's master.cfg (which reads the ports from the
   environment variables BB_WWW_PORT and BB_PB_PORT);
3. `buildbot-worker create-worker --maxdelay=2` per worker (a short reconnect delay so a
   worker started right after the master does not back off for minutes);
4. `buildbot start --nodaemon` (the Popen pid is the master itself), poll the REST API until
   it answers, then start the workers and wait until they are connected;
5. stop with SIGTERM and wait (much faster than `buildbot stop`, which polls).

The binaries are looked for next to `sys.executable` first (a venv), then on PATH.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ExternalServiceError, UsageError

WORKER_PASSWORD = "pass"


def find_buildbot_binary(name: str) -> str | None:
    """`buildbot` or `buildbot-worker`: next to the running interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def _proc_dir(proc: subprocess.Popen) -> str:
    """The folder a master or worker process was started for (its last argument)."""
    args = proc.args
    return str(args[-1]) if isinstance(args, (list, tuple)) and args else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalBuildbot:
    """A Buildbot master in `basedir/master` with workers in `basedir/<worker name>`.

    `master_cfg` is the text of master.cfg; it must take its ports from the environment
    (BB_WWW_PORT, BB_PB_PORT) and may declare workers named in `workers` with password
    `WORKER_PASSWORD`. Workers listed in `offline_workers` are created but never started
    (a "disconnected" worker, as on a real fleet).
    """

    basedir: Path
    master_cfg: str
    workers: tuple[str, ...] = ()
    offline_workers: tuple[str, ...] = ()
    start_timeout: float = 60.0
    # Workers that share nothing with this user: their folders go under worker_root (default
    # basedir), they run as worker_account (an account with uid, gid, home and env(venv)) with
    # buildbot-worker from worker_venv and a clean environment.
    worker_root: Path | None = None
    worker_account: Any = None
    worker_venv: Path | None = None
    www_port: int = field(default_factory=free_port)
    pb_port: int = field(default_factory=free_port)
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.www_port}/"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.www_port}/api/v2"

    @property
    def master_dir(self) -> Path:
        return self.basedir / "master"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, BB_WWW_PORT=str(self.www_port), BB_PB_PORT=str(self.pb_port))

    # ---- lifecycle ----------------------------------------------------------------------
    def create(self) -> None:
        """create-master (runs the DB migrations) and create-worker for every worker."""
        buildbot, worker_bin = self._binaries()
        self.basedir.mkdir(parents=True, exist_ok=True)
        if not (self.master_dir / "buildbot.tac").exists():
            self._run([buildbot, "create-master", "-q", "-r", str(self.master_dir)])
        (self.master_dir / "master.cfg").write_text(self.master_cfg)
        for name in (*self.workers, *self.offline_workers):
            wdir = self.worker_dir(name)
            if not (wdir / "buildbot.tac").exists():
                self._run([worker_bin, "create-worker", "-q", "-r", "--maxdelay=2", str(wdir),
                           f"127.0.0.1:{self.pb_port}", name, WORKER_PASSWORD], as_worker=True)
            else:  # ports change between starts: point the worker at this master
                tac = wdir / "buildbot.tac"
                text = tac.read_text()
                text = re.sub(r"port = \d+", f"port = {self.pb_port}", text)
                tac.write_text(text)

    def start(self, *, wait_workers: bool = True) -> LocalBuildbot:
        buildbot, _ = self._binaries()
        self.create()
        try:
            self._spawn([buildbot, "start", "--nodaemon", str(self.master_dir)], self.master_dir)
            self.wait_for(lambda: self.get("/builders") is not None, "the master's REST API")
            for name in self.workers:
                self.start_worker(name)
            if wait_workers and self.workers:
                wanted = set(self.workers)
                self.wait_for(lambda: wanted <= {w["name"] for w in self.get("/workers")["workers"]
                                                 if w["connected_to"]}, "workers to connect")
        except BaseException:
            self.stop()     # never leave a half-started master and workers behind
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()

    def worker_dir(self, name: str) -> Path:
        return (self.worker_root or self.basedir) / name

    def start_worker(self, name: str) -> None:
        """Start one (created) worker; it connects to the master on its own."""
        _, worker_bin = self._binaries()
        self._spawn([worker_bin, "start", "--nodaemon", str(self.worker_dir(name))], self.worker_dir(name),
                    as_worker=True)

    def worker_pid(self, name: str) -> int | None:
        for proc in self._procs:
            if _proc_dir(proc) == str(self.worker_dir(name)) and proc.poll() is None:
                return proc.pid
        return None

    def stop_worker(self, name: str, *, kill: bool = False) -> None:
        """Stop one worker (it shows as disconnected on the master); `kill`: SIGKILL, as a machine
        that vanishes (no goodbye to the master)."""
        for proc in list(self._procs):
            if _proc_dir(proc) == str(self.worker_dir(name)) and proc.poll() is None:
                proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                proc.wait(timeout=15)
                self._procs.remove(proc)

    def __enter__(self) -> LocalBuildbot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- small synchronous REST helpers (for setting up scenarios) -----------------------
    def get(self, path: str) -> dict:
        try:
            with urllib.request.urlopen(self.api + path, timeout=5) as response:
                return json.load(response)
        except (OSError, http.client.HTTPException, json.JSONDecodeError):
            return None  # type: ignore[return-value]

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(self.api + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise ExternalServiceError(f"POST {self.api + path} -> HTTP {error.code}: {error.read()[:300]!r}")

    def force(self, builder_names: Iterable[str] | None = None, *, scheduler: str = "force",
              **params: object) -> list[int]:
        """Force builds (all of the scheduler's builders, or the named ones); return build request ids."""
        ids: list[int] = []
        targets: list[int | None] = [None]
        if builder_names is not None:
            by_name = {b["name"]: b["builderid"] for b in self.get("/builders")["builders"]}
            targets = [by_name[n] for n in builder_names]
        for builderid in targets:
            p = {"reason": "relman test", "username": "RM <rm@example.org>", **params}
            if builderid is not None:
                p["builderid"] = builderid
            answer = self.post(f"/forceschedulers/{scheduler}",
                               {"jsonrpc": "2.0", "method": "force", "id": 1, "params": p})
            ids.extend(int(v) for v in answer["result"][1].values())
        return ids

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no build request is pending and no build is running."""
        def idle() -> bool:
            pending = self.get("/buildrequests?complete=false")
            running = self.get("/builds?complete=false")
            return bool(pending and running) and not pending["buildrequests"] and not running["builds"]
        self.wait_for(idle, "builds to finish", timeout)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except (OSError, KeyError, TypeError):
                pass
            for proc in self._procs:
                if proc.poll() is not None and _proc_dir(proc) == str(self.master_dir):
                    raise ExternalServiceError(
                        f"the Buildbot master exited (code {proc.returncode}) while waiting for {what}",
                        where=str(self.master_dir / "twistd.log"))
            time.sleep(0.1)
        raise ExternalServiceError(f"timed out after {timeout or self.start_timeout:.0f} s waiting for {what}",
                                   where=str(self.master_dir / "twistd.log"))

    # ---- internals ----------------------------------------------------------------------
    def _binaries(self) -> tuple[str, str]:
        buildbot = find_buildbot_binary("buildbot")
        worker_bin = str(self.worker_venv / "bin" / "buildbot-worker") if self.worker_venv is not None \
            else find_buildbot_binary("buildbot-worker")
        if not buildbot or not worker_bin:
            raise UsageError("buildbot and buildbot-worker are not installed",
                             hint="pip install 'relman[buildbot]' (buildbot, buildbot-worker, buildbot-www)")
        return buildbot, worker_bin

    def _as(self, as_worker: bool) -> dict[str, Any]:
        """Popen arguments: this user with the master's environment, or the worker's account."""
        if not as_worker or self.worker_account is None:
            return {"env": self.env}
        account = self.worker_account
        return {"env": account.env(self.worker_venv), "user": account.uid, "group": account.gid,
                "extra_groups": [], "umask": 0o077}

    def _run(self, argv: list[str], *, as_worker: bool = False) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.worker_root or self.basedir,
                              check=False, **self._as(as_worker))
        if done.returncode:
            raise ExternalServiceError(f"{' '.join(argv[:2])} failed (exit {done.returncode}): "
                                       f"{(done.stderr or done.stdout).strip()[-500:]}")

    def _spawn(self, argv: list[str], cwd: Path, *, as_worker: bool = False) -> None:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True, **self._as(as_worker))
        self._procs.append(proc)
