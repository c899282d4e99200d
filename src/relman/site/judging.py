"""The dashboard's judging process: a long-lived `python -m relman.site.judging` child.

Judging a CPython-sized fleet is about a second of CPU (decoding and ranking thousands of
builds) and rendering its page is more. Done in a thread of the web server, that work holds
the interpreter lock in 5 ms slices against the event loop serving pages, and every request
in flight queues behind it: the latency's tail, not its median. So the cached dashboard sends
each refresh to a process of its own and gets back finished bytes.

A plain child started with `-m` rather than `multiprocessing`: spawn and forkserver re-import
the parent's `__main__` (any script embedding the app would have to guard itself), and fork
would copy a process with a running event loop and threads.

Protocol on the child's stdin/stdout: frames of an 8-byte big-endian length and a pickle.
The parent sends `(function name, args)`; the child answers `("ok", result)` or
`("error", message)`. Only functions named in `FUNCTIONS` run. Both ends are this module, in
the same interpreter and installation, so pickle is the natural codec; nothing else talks to
the pipe.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
from typing import Any, BinaryIO

HEADER = struct.Struct(">Q")
# Functions the child may run, by name → "module:attribute" (imported in the child on first use).
FUNCTIONS = {"judge_and_render": "relman.site.dashboard:judge_and_render",
             "pid": "os:getpid"}    # which process answers (that it is not the server's)


class JudgingProcessError(RuntimeError):
    """The judging process stopped, or answered with an error."""


class JudgingProcess:
    """The parent's handle: one child, started on first use, restarted after it dies."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()         # one request in flight: answers come back in order

    async def call(self, name: str, *args: Any, timeout: float = 300.0) -> Any:
        """`name(*args)` in the child. A child that does not answer within `timeout` seconds
        (a judgement stuck on a master that accepts connections and never answers) is
        stopped: the caller gets an error it can show instead of waiting for ever."""
        if name not in FUNCTIONS:
            raise ValueError(f"not a judging function: {name}")
        async with self._lock:
            proc = await self._started()
            assert proc.stdin is not None and proc.stdout is not None
            payload = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                proc.stdin.write(HEADER.pack(len(payload)) + payload)
                await proc.stdin.drain()
                async with asyncio.timeout(timeout):
                    (size,) = HEADER.unpack(await proc.stdout.readexactly(HEADER.size))
                    status, result = pickle.loads(await proc.stdout.readexactly(size))
            except TimeoutError as error:
                await self.stop()
                raise JudgingProcessError(f"the dashboard's judging process did not answer within {timeout:g} s; "
                                          "it was stopped and a new one starts with the next refresh") from error
            except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as error:
                await self.stop()
                raise JudgingProcessError("the dashboard's judging process stopped; a new one starts "
                                          "with the next refresh") from error
            if status != "ok":
                raise JudgingProcessError(str(result))
            return result

    async def _started(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "relman.site.judging", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": _import_path()})
        return self._proc

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.kill()                 # a judgement waiting on a slow Buildbot must not hold up shutdown
        await proc.wait()


def _import_path() -> str:
    """The parent's import path, so the child imports this same relman (a source checkout too)."""
    return os.pathsep.join(p for p in sys.path if p)


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The child's loop: run each request, answer it, until the parent closes the pipe."""
    import importlib

    loaded: dict[str, Any] = {}
    while (frame := _read_frame(stdin)) is not None:
        name, args = pickle.loads(frame)
        try:
            if name not in loaded:
                module, _, attribute = FUNCTIONS[name].partition(":")
                loaded[name] = getattr(importlib.import_module(module), attribute)
            answer: tuple[str, Any] = ("ok", loaded[name](*args))
        except Exception as error:  # reported to the parent, which shows it on the page
            answer = ("error", f"{type(error).__name__}: {error}")
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(HEADER.pack(len(payload)) + payload)
        stdout.flush()


if __name__ == "__main__":
    # The pipe is for frames only: anything else printed (a warning, a log line) goes to stderr.
    frames_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, frames_out)
