"""One real rehearsal (`relman demo`) shared by the diary and announcement tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    from relman.demo.rehearsal import run_demo

    root = tmp_path_factory.mktemp("announce-demo") / "demo"
    outcome = run_demo(root, as_json=True)
    assert outcome.result.status == "done", outcome.summary()
    return outcome


@pytest.fixture
def demo_journal(demo_run):
    from relman.engine.journal import Journal

    journal = Journal(Path(demo_run.session.db_path))
    yield journal
    journal.close()
