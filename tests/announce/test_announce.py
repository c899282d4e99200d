"""Announcements: drafts from a real release, and sending them to SMTP (aiosmtpd), Mastodon and Discourse."""

from __future__ import annotations

import email
import json
import shutil
import socket
from datetime import date
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from relman.announce.drafts import mastodon_length, read_email, render_drafts, write_drafts
from relman.announce.facts import release_facts
from relman.announce.send import send_announcement
from relman.cli.main import cli
from relman.config import AnnounceSettings
from relman.engine.journal import DONE, Journal
from relman.errors import ExternalServiceError, UsageError
from relman.news.fragments import parse_entries
from relman.schedule.cycle import load_cycle

from .servers import fake_service

SCHEDULE = Path(__file__).parents[1] / "schedule" / "data" / "python-releases.toml"
NEWS = """.. date: 2025-11-20-10-00-00
.. gh-issue: 140001
.. nonce: aaaaaa
.. release date: 2025-12-02
.. section: Security

Fix a crash in :func:`zlib.decompress` on truncated input. Patch by A. Person.

..

.. date: 2025-11-21-10-00-00
.. gh-issue: 140002
.. nonce: bbbbbb
.. section: Library

:mod:`asyncio` now closes transports on shutdown.

..

.. date: 2025-11-22-10-00-00
.. gh-issue: 140003
.. nonce: cccccc
.. section: Library

Speed up ``json.dumps`` for small dicts.
"""
FILES = [{"name": "Python-3.14.1.tgz", "size": 29_123_456, "sha256": "a" * 64},
         {"name": "Python-3.14.1.tgz.asc", "size": 833, "sha256": "b" * 64},
         {"name": "Python-3.14.1.tar.xz", "size": 22_000_001, "sha256": "c" * 64}]


def settings(**extra) -> AnnounceSettings:
    base = {"email": {"sender": "Hugo <hugo@python.org>", "to": ["python-announce-list@python.org"]},
            "platform_experts": ["steve@python.org", "ned@python.org"], "handoff_drop": "sftp://downloads/drop/3.14.1"}
    base.update(extra)
    return AnnounceSettings.model_validate(base)


def facts(s: AnnounceSettings | None = None, news: str = NEWS):
    return release_facts("3.14.1", project="Python", settings=s or settings(), release_date=date(2025, 12, 2),
                         files=FILES, news_text=news, commit="d" * 40, cycle=load_cycle(SCHEDULE))


def drafts_in(tmp_path: Path, s: AnnounceSettings | None = None) -> Path:
    s = s or settings()
    write_drafts(render_drafts(facts(s), s), tmp_path / "drafts")
    return tmp_path / "drafts"


# ---- drafts ------------------------------------------------------------------------------

def test_drafts_carry_the_release_facts(tmp_path: Path) -> None:
    folder = drafts_in(tmp_path)
    blog = (folder / "blog.md").read_text()
    assert blog.startswith("# Python 3.14.1 is now available\n")
    assert "released on 2025-12-02 by Hugo van Kemenade" in blog            # the RM from the schedule
    assert "- Fix a crash in zlib.decompress on truncated input." in blog    # security first, roles stripped
    assert "| Security | 1 |" in blog and "| Library | 2 |" in blog and "3 changes went into this release" in blog
    assert f"| `Python-3.14.1.tgz` | 29,123,456 | `{'a' * 64}` |" in blog
    assert ".asc" not in blog                                              # signatures are not release files
    assert "The next release, 3.14.5 candidate 1, is scheduled for 2026-05-04." in blog   # the next in the data
    assert "<https://www.python.org/downloads/release/python-3141/>" in blog
    assert "<https://docs.python.org/3.14/whatsnew/changelog.html>" in blog
    mail = read_email(folder / "email.eml")
    assert mail["Subject"] == "Python 3.14.1 is now available"
    assert mail["From"] == "Hugo <hugo@python.org>" and mail["To"] == "python-announce-list@python.org"
    assert mail["Message-ID"].endswith("@python.org>") and mail["Date"]
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert f"  {'c' * 64}  Python-3.14.1.tar.xz" in body and "Library                     2" in body
    toot = (folder / "mastodon.txt").read_text().rstrip("\n")
    assert toot.startswith("Python 3.14.1 is out!") and mastodon_length(toot) <= 500
    handoff = read_email(folder / "handoff.eml")
    assert handoff["To"] == "steve@python.org, ned@python.org"
    assert "Tag:     v3.14.1" in handoff.get_content() and f"Commit:  {'d' * 40}" in handoff.get_content()
    assert "Deliver: sftp://downloads/drop/3.14.1" in handoff.get_content()
    assert json.loads((folder / "facts.json").read_text())["total_changes"] == 3


def test_mastodon_post_is_cut_to_fit_500_characters() -> None:
    long_news = "\n..\n\n".join(
        f".. gh-issue: {150000 + i}\n.. nonce: n{i:05d}\n.. section: Library\n\n" + "Make " + "this " * 40 + "faster."
        for i in range(8))
    long_news = ".. date: 2025-11-20-10-00-00\n.. release date: 2025-12-02\n" + long_news
    f = facts(news=long_news)
    assert len(f.highlights) == 5
    toot = render_drafts(f, settings()).mastodon
    assert mastodon_length(toot) <= 500
    assert toot.count("• ") < 5                                        # highlights dropped from the end
    # a link counts 23 characters, whatever its length
    assert mastodon_length("see https://example.org/" + "x" * 200) == len("see ") + 23


def test_project_templates_override_the_built_in_ones(tmp_path: Path) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "mastodon.txt.j2").write_text("{{ project }} {{ version }} 🎉 {{ release_page }}\n")
    s = settings(templates=str(own))
    d = render_drafts(facts(s), s)
    assert d.mastodon == "Python 3.14.1 🎉 https://www.python.org/downloads/release/python-3141/"
    assert d.blog.startswith("# Python 3.14.1 is now available")          # the others stay built in
    (own / "blog.md.j2").write_text("{{ no_such_fact }}\n")
    with pytest.raises(UsageError, match=r"blog\.md\.j2") as caught:
        render_drafts(facts(s), s)
    assert "no_such_fact" in str(caught.value)
    with pytest.raises(UsageError, match="does not exist"):
        render_drafts(facts(), settings(templates=str(tmp_path / "missing")))


def test_demo_release_drafts_use_its_news_and_files(demo_run) -> None:
    folder = Path(demo_run.session.work_dir) / "announce"
    facts_doc = json.loads((folder / "facts.json").read_text())
    repo = demo_run.session.repo
    import subprocess
    news = subprocess.run(["git", "show", "v3.14.0rc1:Misc/NEWS.d/3.14.0rc1.rst"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout
    entries, _ = parse_entries(news)
    assert facts_doc["total_changes"] == len(entries) > 0
    sums = dict(reversed(line.split("  ", 1)) for line in
                (Path(demo_run.session.work_dir) / "artifacts" / "SHA256SUMS").read_text().splitlines())
    blog = (folder / "blog.md").read_text()
    for f in facts_doc["files"]:
        assert sums[f["name"]] == f["sha256"] and f"`{f['sha256']}`" in blog
    assert {f["name"] for f in facts_doc["files"]} >= {"Python-3.14.0rc1.tgz", "Python-3.14.0rc1.tar.xz"}
    assert facts_doc["long_name"] == "3.14.0 release candidate 1" and facts_doc["tag"] == "v3.14.0rc1"


# ---- SMTP --------------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_smtp_send_is_received_as_drafted(tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    s = settings(email={"sender": "Hugo <hugo@python.org>", "to": ["python-announce-list@python.org",
                                                                    "python-dev@python.org"],
                        "smtp_host": "127.0.0.1", "smtp_port": port})
    folder = drafts_in(tmp_path, s)
    report = send_announcement(folder, ["email"], s, version="3.14.1", env={})
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert sender == "hugo@python.org"
    assert recipients == ["python-announce-list@python.org", "python-dev@python.org"]
    received = email.message_from_bytes(raw, policy=policy.default)
    drafted = read_email(folder / "email.eml")
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert received[header] == drafted[header], header
    assert received.get_content() == drafted.get_content()
    assert report[0]["id"] == drafted["Message-ID"]
    # sending again does not send twice
    again = send_announcement(folder, ["email"], s, version="3.14.1", env={})
    assert again[0]["already"] is True and len(inbox.messages) == 1


def test_an_edited_draft_is_what_is_sent(tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    s = settings(email={"sender": "hugo@python.org", "to": ["a@example.org"], "smtp_port": port})
    folder = drafts_in(tmp_path, s)
    eml = folder / "email.eml"
    eml.write_bytes(eml.read_bytes().replace(b"Thank you to everyone", b"Thank you, everyone,"))
    send_announcement(folder, ["email"], s, version="3.14.1", env={})
    assert b"Thank you, everyone," in inbox.messages[0][2]


def test_smtp_unreachable_is_reported_cleanly(tmp_path: Path) -> None:
    s = settings(email={"sender": "hugo@python.org", "to": ["a@example.org"], "smtp_port": _free_port()})
    folder = drafts_in(tmp_path, s)
    with pytest.raises(ExternalServiceError) as caught:
        send_announcement(folder, ["email"], s, version="3.14.1", env={})
    assert "could not reach the mail server" in str(caught.value) and "smtp://127.0.0.1:" in str(caught.value)
    assert not (folder / "sent.json").exists()


# ---- Mastodon and Discourse --------------------------------------------------------------

def test_mastodon_request_as_the_server_sees_it(tmp_path: Path) -> None:
    with fake_service("mastodon") as server:
        s = settings(mastodon={"url": server.url, "token_env": "TOOT_TOKEN", "visibility": "unlisted"})
        folder = drafts_in(tmp_path, s)
        report = send_announcement(folder, ["mastodon"], s, version="3.14.1", env={"TOOT_TOKEN": "s3cret-token"})
    (seen,) = server.requests
    assert seen.path == "/api/v1/statuses"
    assert seen.headers["authorization"] == "Bearer s3cret-token"
    assert seen.headers["content-type"] == "application/json"
    assert len(seen.headers["idempotency-key"]) == 32
    assert seen.body == {"status": (folder / "mastodon.txt").read_text().rstrip("\n"), "visibility": "unlisted"}
    assert len(seen.body["status"]) <= 500
    assert report[0]["id"] == "113300" and report[0]["url"] == f"{server.url}/@python/113300"
    ledger = (folder / "sent.json").read_text()
    assert "s3cret-token" not in ledger and "s3cret-token" not in json.dumps(report)


def test_mastodon_post_over_the_limit_is_refused_before_sending(tmp_path: Path) -> None:
    with fake_service("mastodon") as server:
        s = settings(mastodon={"url": server.url})
        folder = drafts_in(tmp_path, s)
        (folder / "mastodon.txt").write_text("x" * 501 + "\n")
        with pytest.raises(UsageError, match=r"501 characters \(limit 500\)"):
            send_announcement(folder, ["mastodon"], s, version="3.14.1", env={"MASTODON_TOKEN": "s3cret-token"})
    assert server.requests == []


@pytest.mark.parametrize("kind", ["mastodon", "discourse"])
@pytest.mark.parametrize("mode,words", [("401", "refused the credentials"), ("500", "answered 500"),
                                        ("slow", "did not answer within 0.5 s")])
def test_failures_are_reported_cleanly(tmp_path: Path, kind: str, mode: str, words: str) -> None:
    with fake_service(kind, mode=mode) as server:
        s = settings(timeout_s=0.5, mastodon={"url": server.url}, discourse={"url": server.url, "username": "hugo"})
        folder = drafts_in(tmp_path, s)
        env = {"MASTODON_TOKEN": "s3cret-token", "DISCOURSE_API_KEY": "s3cret-token"}
        with pytest.raises(ExternalServiceError) as caught:
            send_announcement(folder, [kind], s, version="3.14.1", env=env)
    text = str(caught.value)
    assert words in text and server.url in text and "s3cret-token" not in text
    assert "Traceback" not in text
    if mode == "401":
        expected = "The access token is invalid" if kind == "mastodon" else "The API username or key is invalid"
        assert expected in text
    assert not (folder / "sent.json").exists()                     # nothing recorded as sent


def test_discourse_request_as_the_server_sees_it(tmp_path: Path) -> None:
    with fake_service("discourse") as server:
        s = settings(discourse={"url": server.url, "username": "hugovk", "category": 7})
        folder = drafts_in(tmp_path, s)
        report = send_announcement(folder, ["discourse"], s, version="3.14.1", env={"DISCOURSE_API_KEY": "s3cret-token"})
    (seen,) = server.requests
    assert seen.path == "/posts.json"
    assert seen.headers["api-key"] == "s3cret-token" and seen.headers["api-username"] == "hugovk"
    blog = (folder / "blog.md").read_text()
    assert seen.body["title"] == "Python 3.14.1 is now available" and seen.body["category"] == 7
    assert seen.body["raw"] == blog.split("\n", 1)[1].strip() + "\n"
    assert report[0]["url"] == f"{server.url}/t/python-3-14-1-is-now-available/59"


def test_tokens_come_from_the_environment_only(tmp_path: Path) -> None:
    s = settings(mastodon={"url": "http://127.0.0.1:9", "token_env": "NOT_SET_ANYWHERE"})
    folder = drafts_in(tmp_path, s)
    with pytest.raises(UsageError) as caught:                      # a setting to fix: exit 2
        send_announcement(folder, ["mastodon"], s, version="3.14.1", env={})
    assert "NOT_SET_ANYWHERE is empty" in str(caught.value)


def test_one_failing_channel_does_not_resend_the_others(tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    with fake_service("mastodon", mode="500") as server:
        s = settings(email={"sender": "hugo@python.org", "to": ["a@example.org"], "smtp_port": port},
                     mastodon={"url": server.url})
        folder = drafts_in(tmp_path, s)
        env = {"MASTODON_TOKEN": "s3cret-token"}
        with pytest.raises(ExternalServiceError, match="mastodon: Mastodon answered 500"):
            send_announcement(folder, ["email", "mastodon"], s, version="3.14.1", env=env)
        assert len(inbox.messages) == 1
        server.mode = "ok"
        report = send_announcement(folder, ["email", "mastodon"], s, version="3.14.1", env=env)
    assert [(r["channel"], r["already"]) for r in report] == [("email", True), ("mastodon", False)]
    assert len(inbox.messages) == 1
    keys = {r.headers["idempotency-key"] for r in server.requests}
    assert len(server.requests) == 2 and len(keys) == 1                # the retry carries the same key


# ---- the command and the gate on publishing -----------------------------------------------

def test_announce_command_writes_drafts_and_refuses_to_send_unverified(demo_run, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(Path(demo_run.session.db_path).parent, state, ignore=shutil.ignore_patterns("locks"))
    journal = Journal(state / "relman.db")                 # as if publishing had failed in this run
    journal.set_step_status(demo_run.result.run_id, "publish.verify", "failed", error="a download differed")
    journal.close()
    repo = str(demo_run.session.repo)
    out = tmp_path / "drafts"
    result = CliRunner().invoke(cli, ["announce", "3.14.0rc1", "--repo", repo, "--state", str(state), "-o", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["publish_verified"] is False and doc["run_id"] == demo_run.result.run_id
    assert (out / "blog.md").is_file() and (out / "email.eml").is_file()
    refused = CliRunner().invoke(cli, ["announce", "3.14.0rc1", "--repo", repo, "--state", str(state), "-o", str(out),
                                       "--send", "--channel", "email"])
    assert refused.exit_code == 2
    assert "publishing has not been verified" in refused.output and "Traceback" not in refused.output


def test_announce_command_sends_once_publishing_is_verified(demo_run, tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    state = tmp_path / "state"
    shutil.copytree(Path(demo_run.session.db_path).parent, state, ignore=shutil.ignore_patterns("locks"))
    journal = Journal(state / "relman.db")                 # the rehearsal published and verified its downloads
    verified = journal.steps(demo_run.result.run_id)["publish.verify"]
    journal.close()
    assert verified.status == DONE and verified.outputs["checked"] > 0
    repo, out = str(demo_run.session.repo), str(tmp_path / "drafts")
    base = ["announce", "3.14.0rc1", "--repo", repo, "--state", str(state), "-o", out]
    # the sample names no mail settings: a clear refusal, nothing sent
    unset = CliRunner().invoke(cli, [*base, "--send", "--channel", "email"])
    assert unset.exit_code == 2 and "the email has no sender" in unset.output and inbox.messages == []
    config = tmp_path / "announce.toml"
    config.write_text(f'[announce.email]\nsender = "rm@example.org"\nto = ["announce@example.org"]\n'
                      f"smtp_port = {port}\n")
    sent = CliRunner().invoke(cli, [*base, "--config", str(config), "--send", "--channel", "email", "--json"])
    assert sent.exit_code == 0, sent.output
    assert [r["channel"] for r in json.loads(sent.output)["sent"]] == ["email"]
    (message,) = inbox.messages
    assert message[1] == ["announce@example.org"]
    assert email.message_from_bytes(message[2], policy=policy.default)["Subject"] == \
        "Sample Python 3.14.0 release candidate 1 is now available"
