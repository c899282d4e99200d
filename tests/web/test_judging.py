"""The dashboard judges in a process of its own: the server's loop never shares its interpreter
lock with that CPU work, and a judging process that dies is replaced without losing the page."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)
from starlette.testclient import TestClient

from relman.site.judging import JudgingProcess, JudgingProcessError

from .test_dashboard import dashboard_app, judged


async def _answer_after_a_death(judging: JudgingProcess) -> int:
    """The next answer: a call that meets the dead process fails with a clear error (or, once the
    death was noticed, a new process answers at once); the one after that always answers."""
    try:
        return await judging.call("pid")
    except JudgingProcessError as error:
        assert "judging process stopped" in str(error)
        return await judging.call("pid")


def test_the_judging_process_is_another_process_and_is_replaced_when_it_dies() -> None:
    async def scenario() -> tuple[int, int]:
        judging = JudgingProcess()
        try:
            first = await judging.call("pid")
            assert first != os.getpid()
            os.kill(first, signal.SIGKILL)
            second = await _answer_after_a_death(judging)
            with pytest.raises(ValueError, match="not a judging function"):
                await judging.call("system")
            return first, second
        finally:
            await judging.stop()

    first, second = asyncio.run(scenario())
    assert second not in (first, os.getpid())


def test_a_judging_process_stopped_mid_call_is_an_error_not_a_hang() -> None:
    async def scenario() -> None:
        judging = JudgingProcess()
        try:
            child = await judging.call("pid")
            proc = judging._proc
            assert proc is not None and proc.stdin is not None
            os.kill(child, signal.SIGSTOP)          # it takes the request but never answers…
            call = asyncio.create_task(judging.call("pid"))
            await asyncio.sleep(0.2)
            assert not call.done()
            os.kill(child, signal.SIGKILL)          # …and then dies
            with pytest.raises(JudgingProcessError, match="judging process stopped"):
                await asyncio.wait_for(call, 10)
            assert await judging.call("pid") != child
        finally:
            await judging.stop()

    asyncio.run(scenario())


def test_a_judging_process_that_never_answers_is_stopped_after_the_timeout() -> None:
    async def scenario() -> None:
        judging = JudgingProcess()
        try:
            child = await judging.call("pid")
            os.kill(child, signal.SIGSTOP)
            with pytest.raises(JudgingProcessError, match="did not answer within 0.5 s"):
                await judging.call("pid", timeout=0.5)
            assert await judging.call("pid") != child
        finally:
            await judging.stop()

    asyncio.run(scenario())


def test_a_killed_judging_process_keeps_the_dashboard_going(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    site, app = dashboard_app(tmp_path, cpython_like_master.url)
    with TestClient(app) as client:
        before = judged(client)
        assert before["error"] is None and before["verdicts"]
        state = site.services["dashboard"]
        child = client.portal.call(state._judging.call, "pid")
        os.kill(child, signal.SIGKILL)
        client.portal.call(state.wake)          # as a finished build on the master would
        after = judged(client, before["refreshes"])
        if after["error"]:                      # the refresh met the dead process: last verdicts kept
            assert "judging process stopped" in after["error"]
            assert after["verdicts"] == before["verdicts"]
            assert "judging process stopped" in client.get("/").text
            client.portal.call(state.wake)
            after = judged(client, after["refreshes"])
        assert after["error"] is None
        assert [v["verdict"] for v in after["verdicts"]] == [v["verdict"] for v in before["verdicts"]]
        assert client.portal.call(state._judging.call, "pid") not in (child, os.getpid())
    assert state._judging._proc is None        # stopped with the app
