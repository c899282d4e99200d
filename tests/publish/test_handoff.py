"""Platform hand-offs: the drafts, and the wait for files arriving late, never, and wrong."""

from __future__ import annotations

import email
import hashlib
import queue
import threading
import time
from pathlib import Path

import pytest

from relman.config import Settings
from relman.engine.step import Step, StepContext
from relman.errors import CheckFailed, StepTimeout
from relman.release.context import Release
from relman.release.handoff import send_handoffs, wait_for_platforms
from relman.version import Version

V = "3.14.0rc1"
WIN, MAC = f"python-{V}-amd64.exe", f"python-{V}-macos11.pkg"


def context(tmp_path: Path, *, timeout: float = 10.0, cycle: dict | None = None,
            deps: dict | None = None, publish: dict | None = None) -> tuple[StepContext, queue.Queue]:
    settings = Settings.model_validate({"profile": "demo", "publish": {
        "downloads_dir": str(tmp_path / "ftp"), "drop_dir": str(tmp_path / "drop"), "handoff_timeout_s": timeout,
        "platform_contacts": {"windows": "windows-rm@example.org"}, **(publish or {})}})
    release = Release(Version.parse(V), tmp_path, settings, None, tmp_path / "work")  # type: ignore[arg-type]
    events: queue.Queue = queue.Queue()
    step = Step("publish.wait-platforms", "wait", lambda ctx: None)
    dep_outputs = deps if deps is not None else {"publish.handoff": {"platforms": ["windows", "macos"]},
                                                 "source.tag": {"tag": "v" + V, "commit": "c0ffee" * 6 + "abcd"}}
    ctx = StepContext(step, {"version": V}, dep_outputs, {"release": release, "release_cycle": cycle},
                      frozenset(), events)
    return ctx, events


def logs(events: queue.Queue) -> list[str]:
    out = []
    while not events.empty():
        kind, _, payload = events.get()
        if kind == "log":
            out.append(payload)
    return out


def deliver(drop: Path, name: str, data: bytes, sums_for: str | None = None, sha: str | None = None) -> None:
    drop.mkdir(parents=True, exist_ok=True)
    (drop / name).write_bytes(data)
    if sums_for:
        with open(drop / f"SHA256SUMS.{sums_for}", "a") as out:
            out.write(f"{sha or hashlib.sha256(data).hexdigest()}  {name}\n")


def test_handoff_drafts_name_tag_commit_files_drop_and_deadline(tmp_path):
    ctx, events = context(tmp_path)
    out = send_handoffs(ctx)
    assert out["platforms"] == ["windows", "macos"] and out["sent"] == []
    message = email.message_from_bytes((tmp_path / "work" / "handoff" / "windows.eml").read_bytes())
    body = message.get_payload(decode=True).decode()
    assert message["To"] == "windows-rm@example.org" and "Windows" in message["Subject"]
    for fact in ("v" + V, "c0ffee" * 6 + "abcd", WIN, str(tmp_path / "drop" / V), out["deadline"]):
        assert fact in body
    assert MAC not in body
    assert any("no SMTP configured" in line for line in logs(events))


def test_files_arriving_late_are_waited_for_fetched_and_verified(tmp_path):
    ctx, events = context(tmp_path)
    drop = tmp_path / "drop" / V

    def builders():
        time.sleep(0.4)
        deliver(drop, WIN, b"windows installer bytes", "windows")
        time.sleep(1.2)
        deliver(drop, MAC, b"macos package bytes", "macos")

    thread = threading.Thread(target=builders)
    thread.start()
    out = wait_for_platforms(ctx)
    thread.join()
    assert set(out["files"]) == {WIN, MAC}
    assert out["files"][MAC]["sha256"] == hashlib.sha256(b"macos package bytes").hexdigest()
    assert (Path(out["dir"]) / WIN).read_bytes() == b"windows installer bytes"
    lines = logs(events)
    assert "Waiting for files: source ✅ Windows ❌ macOS ❌" in lines
    assert "Waiting for files: source ✅ Windows ✅ macOS ❌" in lines
    assert lines.index("Waiting for files: source ✅ Windows ✅ macOS ❌") > 0


def test_files_that_never_arrive_time_out_naming_what_is_missing(tmp_path):
    ctx, _ = context(tmp_path, timeout=1.0)
    deliver(tmp_path / "drop" / V, WIN, b"windows only")
    with pytest.raises(StepTimeout) as error:
        wait_for_platforms(ctx)
    assert "macOS: " + MAC in str(error.value) and WIN not in str(error.value)


@pytest.mark.parametrize("case", ["empty", "other-version", "digest"])
def test_wrong_files_fail_with_what_is_wrong(tmp_path, case):
    ctx, _ = context(tmp_path, timeout=5.0)
    drop = tmp_path / "drop" / V
    deliver(drop, WIN, b"windows installer bytes", "windows")
    if case == "empty":
        deliver(drop, MAC, b"")
        expected = "empty file"
    elif case == "other-version":
        deliver(drop, MAC, b"mac")
        deliver(drop, "python-3.14.0rc2-macos11.pkg", b"a package for another release")
        expected = "python-3.14.0rc2-macos11.pkg"
    else:
        deliver(drop, MAC, b"tampered package", "macos", sha="0" * 64)
        expected = "differs from SHA256SUMS.macos"
    with pytest.raises(CheckFailed) as error:
        wait_for_platforms(ctx)
    assert expected in str(error.value)


def test_security_releases_wait_for_source_only(tmp_path):
    ctx, _ = context(tmp_path, timeout=0.5, cycle={"3.14": {"status": "security"}})
    assert send_handoffs(ctx)["platforms"] == []
    out = wait_for_platforms(ctx)
    assert out["files"] == {} and not (tmp_path / "work" / "handoff" / "windows.eml").exists()


def test_handoffs_are_sent_over_smtp_once_and_received_as_drafted(tmp_path):
    """With [publish] smtp_host set, each platform's hand-off goes out through the SMTP channel
    (aiosmtpd here), exactly as drafted, and a re-run of the step does not send it again."""
    import socket

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
            return "250 accepted"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        contacts = {"windows": "windows-rm@example.org", "macos": "macos-rm@example.org"}
        ctx, events = context(tmp_path, publish={"smtp_host": "127.0.0.1", "smtp_port": port,
                                                 "platform_contacts": contacts})
        out = send_handoffs(ctx)
        assert out["sent"] == ["macos", "windows"]
        assert sorted(r[0][0] for r in inbox.messages) == ["macos-rm@example.org", "windows-rm@example.org"]
        for recipients, raw in inbox.messages:
            platform = "windows" if recipients == ["windows-rm@example.org"] else "macos"
            received = email.message_from_bytes(raw)
            drafted = email.message_from_bytes((tmp_path / "work" / "handoff" / f"{platform}.eml").read_bytes())
            for header in ("From", "To", "Subject", "Message-ID"):
                assert received[header] == drafted[header], header
            # (SMTP carries CRLF line ends; the text is the same)
            assert received.get_payload(decode=True).replace(b"\r\n", b"\n") == drafted.get_payload(decode=True)
        again = send_handoffs(ctx)                       # a resumed run: nothing is sent twice
        assert again["sent"] == ["macos", "windows"] and len(inbox.messages) == 2
    finally:
        controller.stop()
