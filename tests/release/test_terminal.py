"""`relman run` on a real terminal (a pty): the live checklist and y/yes/n/no gates."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time

from relman.demo.sample import create_sample_project
from relman.engine.journal import Journal
from relman.version import Version

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def drive(argv: list[str], answers: list[bytes], timeout: float = 60) -> tuple[int, str]:
    """Run argv on a pty; answer each y/yes/n/no prompt with the next answer."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvp(argv[0], argv)
    output, given = b"", 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        plain = ANSI.sub(b"", output)
        if plain.count(b"y/yes/n/no") > given and given < len(answers):
            os.write(fd, answers[given] + b"\r")
            given += 1
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), ANSI.sub(b"", output).decode(errors="replace")


def test_interactive_gates_on_a_terminal(tmp_path):
    sample = create_sample_project(tmp_path / "s", Version.parse("3.14.0rc1"))
    state = tmp_path / "state"
    config = tmp_path / "relman.toml"
    config.write_text("[signing]\nallow_unsigned = true\n")
    argv = [sys.executable, "-m", "relman.cli.main", "run", "3.14.0rc1", "--repo", str(sample.repo), "--state", str(state),
            "--config", str(config)]
    code, screen = drive(argv, [b"maybe", b"no"])
    assert code == 3, screen
    assert "please answer y, yes, n or no" in screen
    assert "⏸" in screen and "✅ preflight.clean" in screen
    journal = Journal(state / "relman.db")
    assert journal.approvals(1)["push-fork"]["decision"] == "declined"

    code, screen = drive(argv, [b"yes", b"y"])
    assert code == 0, screen
    assert "irreversible" in screen, "the upstream gate shows its irreversible effect"
    approvals = Journal(state / "relman.db").approvals(1)
    assert {g: (a["decision"], a["how"]) for g, a in approvals.items()} == {
        "push-fork": ("approved", "interactive"), "push-upstream": ("approved", "interactive")}
