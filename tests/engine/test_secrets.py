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


def test_build_job_logs_are_redacted(tmp_path, monkeypatch):
    import queue

    import pytest

    from relman.ci.executor import BuildJob
    from relman.ci.local import LocalExecutor
    from relman.engine.step import StepContext
    from relman.release.build import _run_job

    monkeypatch.setenv("UPLOAD_TOKEN", TOKEN)
    redact = Redactor([])
    step = Step("build.x", "x", lambda ctx: {})
    ctx = StepContext(step=step, params={}, dep_outputs={}, resources={"executor": LocalExecutor(log_dir=tmp_path),
                                                                        "redact": redact},
                      approved_gates=frozenset(), _events=queue.Queue())
    ok = BuildJob("leaky", ("sh", "-c", 'echo "uploading with $UPLOAD_TOKEN"'), cwd=tmp_path, output_dir=tmp_path)
    _run_job(ctx, ok)
    log = (tmp_path / "leaky.log").read_text()
    assert "uploading with ***" in log and TOKEN not in log
    bad = BuildJob("fails", ("sh", "-c", 'echo "token $UPLOAD_TOKEN rejected"; exit 3'), cwd=tmp_path,
                   output_dir=tmp_path)
    with pytest.raises(StepFailed) as info:
        _run_job(ctx, bad)
    assert TOKEN not in str(info.value) and "token *** rejected" in str(info.value)
    assert TOKEN not in (tmp_path / "fails.log").read_text()
