"""The local executor: parallel jobs, dependencies, logs, timeouts, outputs; never raising."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from relman.ci.executor import BuildJob
from relman.ci.local import LocalExecutor


def job(tmp_path: Path, id: str, code: str, **kw) -> BuildJob:
    return BuildJob(id=id, argv=(sys.executable, "-c", code), cwd=tmp_path, output_dir=tmp_path / id, **kw)


def test_jobs_run_in_parallel_respecting_dependencies(tmp_path):
    stamp = "import time,pathlib; pathlib.Path('{0}').write_text(str(time.time())); time.sleep(0.6); print('done {0}')"
    jobs = [
        job(tmp_path, "build-source", stamp.format("a") + "; pathlib.Path('build-source/x.tgz').write_text('x')",
            outputs=("*.tgz",)),
        job(tmp_path, "build-docs", stamp.format("b")),
        job(tmp_path, "test-source", stamp.format("c"), deps=("build-source",)),
    ]
    events = []
    results = LocalExecutor(max_parallel=2, log_dir=tmp_path / "logs").run(
        jobs, on_event=lambda j, kind, msg: events.append((j, kind)))
    assert all(r.ok for r in results.values()), results
    a, b, c = (float((tmp_path / n).read_text()) for n in "abc")
    assert abs(a - b) < 0.5            # independent jobs started together
    assert c >= a + 0.5                # the dependent one waited for its dependency
    assert results["build-source"].outputs == [tmp_path / "build-source" / "x.tgz"]
    assert "done a" in (tmp_path / "logs" / "build-source.log").read_text()
    assert ("test-source", "started") in events and ("test-source", "finished") in events
    assert list(results) == ["build-source", "build-docs", "test-source"]


def test_failure_propagates_without_raising(tmp_path):
    jobs = [job(tmp_path, "build-source", "import sys; print('compiler exploded'); sys.exit(3)"),
            job(tmp_path, "test-source", "print('never')", deps=("build-source",)),
            job(tmp_path, "build-docs", "print('fine')")]
    results = LocalExecutor().run(jobs)
    assert not results["build-source"].ok and results["build-source"].returncode == 3
    assert "compiler exploded" in results["build-source"].error
    assert not results["test-source"].ok and "dependency build-source failed" in results["test-source"].error
    assert results["test-source"].returncode is None
    assert results["build-docs"].ok


def test_timeout_kills_the_job(tmp_path):
    started = time.monotonic()
    results = LocalExecutor().run([job(tmp_path, "slow", "import time; time.sleep(30)", timeout=0.5)])
    assert time.monotonic() - started < 10
    assert not results["slow"].ok and "timed out" in results["slow"].error


def test_missing_outputs_unknown_deps_cycles_and_bad_commands(tmp_path):
    jobs = [job(tmp_path, "no-output", "pass", outputs=("*.tar.xz",)),
            job(tmp_path, "orphan", "pass", deps=("ghost",)),
            job(tmp_path, "a", "pass", deps=("b",)),
            job(tmp_path, "b", "pass", deps=("a",)),
            BuildJob(id="missing-binary", argv=("/nonexistent/tool",), cwd=tmp_path, output_dir=tmp_path / "m")]
    results = LocalExecutor().run(jobs)
    assert "produced no *.tar.xz" in results["no-output"].error
    assert "unknown dependency ghost" in results["orphan"].error
    assert "cycle" in results["a"].error and "cycle" in results["b"].error
    assert "cannot start" in results["missing-binary"].error
    assert not any(r.ok for r in results.values())
