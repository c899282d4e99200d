"""Processes relman starts: each in its own process group, every one of them stoppable.

A step's work runs in a worker thread inside a *cancel scope* (the step's cancel event). Any
command started through `run` while that scope is active is killed, with everything it
started (its whole process group), as soon as the event is set: a timed-out or interrupted
step really stops, it does not carry on in the background. Every live group is also listed
here, so a Ctrl-C can stop them all (`stop_all`) and nothing relman started outlives it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from .errors import Cancelled

_local = threading.local()
_live: dict[int, str] = {}          # process group id → what runs in it
_live_lock = threading.Lock()


@contextmanager
def cancel_scope(event: threading.Event) -> Iterator[threading.Event]:
    """Commands run by this thread while the scope is active stop when `event` is set."""
    previous = getattr(_local, "cancel", None)
    _local.cancel = event
    try:
        yield event
    finally:
        _local.cancel = previous


def current_cancel() -> threading.Event | None:
    return getattr(_local, "cancel", None)


def check_cancelled(what: str = "the step") -> None:
    event = current_cancel()
    if event is not None and event.is_set():
        raise Cancelled(f"{what} was stopped (timed out or interrupted)")


def register(pgid: int, what: str) -> None:
    with _live_lock:
        _live[pgid] = what


def unregister(pgid: int) -> None:
    with _live_lock:
        _live.pop(pgid, None)


def live_groups() -> dict[int, str]:
    with _live_lock:
        return dict(_live)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, *, grace_s: float = 3.0) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after `grace_s`."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and group_alive(pgid):
        time.sleep(0.05)
    if group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_all(*, force: bool = False) -> list[str]:
    """Stop every process group relman started and still runs; returns what was stopped."""
    stopped = []
    for pgid, what in live_groups().items():
        if force:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        else:
            stop_group(pgid)
        stopped.append(what)
    return stopped


def run(argv: Sequence[str], *, cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
        input: str | bytes | None = None, text: bool = True, timeout: float | None = None,
        merge_stderr: bool = False) -> subprocess.CompletedProcess:
    """Like `subprocess.run(capture_output=True)`, in a new process group that is killed (all of
    it) when the current cancel scope is set (raises `Cancelled`) or `timeout` runs out (raises
    `subprocess.TimeoutExpired`)."""
    cancel = current_cancel()
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"`{' '.join(argv)}` not started: the step was stopped")
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                            text=text, start_new_session=True)
    register(proc.pid, " ".join(argv))
    started = time.monotonic()
    pending_input = input
    try:
        while True:
            try:
                out, err = proc.communicate(pending_input, timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pending_input = None  # already handed over; communicate keeps sending it
            stop = cancel is not None and cancel.is_set()
            late = timeout is not None and time.monotonic() - started > timeout
            if stop or late:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.communicate()
                if stop:
                    raise Cancelled(f"`{' '.join(argv)}` was stopped (the step timed out or was interrupted)")
                raise subprocess.TimeoutExpired(list(argv), timeout or 0)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        # reap helpers the command left in its group (a hook's background child, ssh)
        if group_alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        unregister(proc.pid)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
