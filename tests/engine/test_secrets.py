"""Secrets from the environment never reach the journal file, logs or output."""

from __future__ import annotations

import io

from relman.engine import Journal, Plan, Redactor, Runner, Step
from relman.engine.display import PlainDisplay
from relman.errors import StepFailed

SECRET = "pydotorg-key-5f3a9c1e77b2"
TOKEN = "ghp_exampletoken0123456789"


def test_secrets_never_reach_the_journal_or_output(tmp_path, monkeypatch):
    monkeypatch.setenv("PYDOTORG_AUTH", SECRET)        # named by the configuration
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)          # recognised by its name
    redact = Redactor(["PYDOTORG_AUTH"])

    def leaky(ctx):
        ctx.log(f"using key {SECRET} and token {TOKEN}")
        return {"auth": f"ApiKey rm:{SECRET}", "nested": {"t": [TOKEN]}}

    def failing(ctx):
        raise StepFailed(f"HTTP 401 for Authorization: ApiKey rm:{SECRET}")

    out = io.StringIO()
    journal = Journal(tmp_path / "state.db", redact=redact)
    plan = Plan.build("secret", [Step("leaky", "leaky", leaky), Step("failing", "failing", failing)], {})
    runner = Runner(journal, plan, key="s", observer=PlainDisplay(out), redact=redact)
    result = runner.execute(runner.create_run())
    journal.close()
    assert result.status == "failed"

    printed = out.getvalue()
    assert "***" in printed and SECRET not in printed and TOKEN not in printed
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    assert SECRET.encode() not in stored and TOKEN.encode() not in stored
    assert b"***" in stored
    assert "***" in result.steps["failing"].error


def test_short_or_empty_values_are_not_masked():
    redact = Redactor([], environ={"API_KEY": "", "SOME_TOKEN": "ab", "OTHER": "visible-value"})
    assert redact("ab visible-value") == "ab visible-value"
