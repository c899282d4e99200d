"""`relman run` on a real terminal (a pty): gates that do not freeze the run (issue 9 point 5)
and a Ctrl-C that stops everything relman started (issue 9 point 6)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import git

from .released import unfinished
from relman.demo.sample import create_sample_project
from relman.engine.journal import Journal
from relman.version import Version

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
VERSION = "3.14.0rc1"
pytestmark = pytest.mark.slow

# A test in the sample's own suite: it records its process group, starts a helper that ignores
# SIGTERM in the same group, and takes its time — unless the "fast" flag file exists.
SLOW_TEST = '''import os, subprocess, time, unittest

MARKS = {marks!r}


class Slow(unittest.TestCase):
    def test_slow(self):
        if os.path.exists(os.path.join(MARKS, "fast")):
            return
        helper = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300"])
        with open(os.path.join(MARKS, "pids"), "w") as f:
            f.write(f"{{os.getpgid(0)}} {{os.getpid()}} {{helper.pid}}\\n")
        time.sleep({seconds})
'''


class Terminal:
    """A command on a pty, with its screen (escape sequences removed) collected as it goes."""

    def __init__(self, argv: list[str], cwd: Path | None = None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: a wide terminal, so long paths stay on one line
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 250, 0, 0))
            os.environ.update(COLUMNS="250", LINES="60")
            if cwd:
                os.chdir(cwd)
            os.execvp(argv[0], argv)
        self.raw = b""
        self.code: int | None = None

    @property
    def screen(self) -> str:
        return ANSI.sub(b"", self.raw).decode(errors="replace")

    def pump(self, seconds: float = 0.2) -> None:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            self.raw += chunk

    def wait_for(self, predicate, timeout: float = 90, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.pump()
            if self.exited():
                break
        assert predicate(), f"timed out waiting for {what}\n--- screen ---\n{self.screen[-3000:]}"

    def exited(self) -> bool:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is not None

    def finish(self, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while not self.exited() and time.monotonic() < deadline:
            self.pump()
        for _ in range(20):
            self.pump(0.05)
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise AssertionError(f"relman did not exit\n{self.screen[-3000:]}")
        return self.code  # type: ignore[return-value]

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)



def sample_with_slow_test(tmp_path: Path, seconds: float) -> tuple[Path, Path, Path]:
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    marks = tmp_path / "marks"
    marks.mkdir()
    (sample.repo / "Lib" / "test" / "test_slow.py").write_text(SLOW_TEST.format(marks=str(marks), seconds=seconds))
    git(sample.repo, "add", "-A")
    git(sample.repo, "commit", "-qm", "a slow test")
    config = tmp_path / "relman.toml"
    config.write_text("[signing]\nallow_unsigned = true\n[build]\ndocs = false\n")
    return sample.repo, marks, config


def relman_run(repo: Path, state: Path, config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "relman.cli.main", "run", VERSION, "--repo", str(repo), "--state", str(state),
            "--config", str(config), *extra]


def step_status(state: Path, step: str) -> str | None:
    journal = Journal(state / "relman.db")
    try:
        row = journal.steps(1).get(step)
        return row.status if row else None
    finally:
        journal.close()


def test_a_gate_waits_while_the_builds_go_on(tmp_path):
    repo, _, config = sample_with_slow_test(tmp_path, 1)
    state = tmp_path / "state"
    term = Terminal(relman_run(repo, state, config))
    term.wait_for(lambda: "to your fork? [y/yes/n/no]" in term.screen, what="the fork gate")
    screen = term.screen
    assert f"relman run 1 — {VERSION}" in screen, "the live header names the version"
    assert f"release: {VERSION}" in screen
    assert f"remote: origin ({tmp_path / 's' / 'fork.git'})" in screen
    assert f"refs/tags/v{VERSION} → " in screen and "dry run said:" in screen

    # Nobody answers yet: the build jobs finish and the steps after them start and finish too.
    for step in ("build.artifacts", "build.test-source", "build.reproducible", "build.verify"):
        term.wait_for(lambda step=step: step_status(state, step) == "done", what=f"{step} done while the gate waits")
    assert step_status(state, "source.push-fork") != "done"
    term.type(b"yes\r")
    term.wait_for(lambda: "cannot be undone. [y/yes/n/no]" in term.screen, what="the upstream gate")
    upstream = term.screen.rsplit("gate push-upstream", 1)[-1]
    assert f"refs/heads/3.14 → {git(repo, 'rev-parse', '3.14')}" in upstream
    term.type(b"y\r")
    # A later gate (the announcement, when configured) is declined: not what this test is about.
    term.wait_for(lambda: term.screen.count("[y/yes/n/no]") >= 3 or term.exited(), what="the run to end or ask again")
    if not term.exited():
        term.type(b"n\r")
    term.finish()
    journal = Journal(state / "relman.db")
    waited = [e for e in journal.events(1) if e["kind"] == "gate-answered"]
    assert {"push-fork", "push-upstream"} <= {e["data"]["gate"] for e in waited}
    artifacts = journal.attempts(1, "build.artifacts")[-1]
    assert artifacts["outcome"] == "done"
    assert unfinished(journal.steps(1)) == []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_a_build_stops_everything_and_resumes_cleanly(tmp_path, presses):
    repo, marks, config = sample_with_slow_test(tmp_path, 120)
    state = tmp_path / "state"
    term = Terminal(relman_run(repo, state, config, "--yes"))
    term.wait_for(lambda: (marks / "pids").exists() and (marks / "pids").read_text().endswith("\n"),
                  what="the slow test to start")
    pgid, test_pid, helper_pid = map(int, (marks / "pids").read_text().split())
    term.type(b"\x03")
    term.wait_for(lambda: "stopping… (Ctrl-C again to force)" in term.screen, timeout=10, what="the stopping message")
    if presses == 2:
        term.type(b"\x03")
    code = term.finish(timeout=30)
    assert code == 130, term.screen[-3000:]
    for pid in (test_pid, helper_pid):
        assert not alive(pid), f"process {pid} started by relman outlived it"
    assert not group_alive(pgid), "the build job's process group outlived relman"

    journal = Journal(state / "relman.db")
    assert journal.get_run(1).status == "interrupted"
    assert any(e["kind"] == "interrupted" for e in journal.events(1))
    assert journal.attempts(1, "build.test-source")[-1]["outcome"] == "interrupted"
    journal.close()

    (marks / "fast").write_text("")
    (marks / "pids").unlink()
    again = Terminal(relman_run(repo, state, config, "--yes"))
    again.finish(timeout=120)
    journal = Journal(state / "relman.db")
    assert unfinished(journal.steps(1)) == [], again.screen[-3000:]
