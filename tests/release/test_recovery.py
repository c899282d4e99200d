"""Recovery on a bad day, through the real command line: a failed test-source fixed and
re-tagged with --redo, abort before and after a push, a local tag that is not a release,
drift shown and accepted once, and a tampered journal refused."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys

from relman.demo.sample import create_sample_project
from relman.engine.journal import Journal
from relman.version import Version

from .test_preflight import git, relman
from .test_terminal import drive

V = "3.14.0rc1"
TAG, TEMP = "v3.14.0rc1", "branch-3.14.0rc1"   # release-tools names it branch-<version>


def setup(tmp_path, *, docs: bool = True):
    sample = create_sample_project(tmp_path / "s", Version.parse(V))
    config = sample.root / "relman.toml"
    config.write_text("[signing]\nallow_unsigned = true\n" + ("" if docs else "[build]\ndocs = false\n"))
    return sample, config


def argv(sample, config, *extra: str) -> list[str]:
    return [sys.executable, "-m", "relman.cli.main", "run", V, "--repo", str(sample.repo), "--config", str(config),
            "--state", str(sample.root / "state"), *extra]


def cli(sample, config, command: str, *extra: str):
    return relman(command, V, "--repo", str(sample.repo), "--config", str(config), "--state",
                  str(sample.root / "state"), *extra)


def journal(sample) -> Journal:
    return Journal(sample.root / "state" / "relman.db")


def released_through_post(sample, run_id: int, code: int, screen: str) -> None:
    """The release went out: every source, build and post-release step is done (the later
    publishing and announcement phases have their own tests)."""
    assert code in (0, 1), screen
    steps = journal(sample).steps(run_id)
    left = {sid: row.status for sid, row in steps.items()
            if sid.split(".")[0] in ("source", "build", "post") and row.status not in ("done", "skipped")}
    assert left == {}, screen


def test_failed_test_source_is_fixed_and_retagged_with_redo(tmp_path):
    sample, config = setup(tmp_path)
    repo = sample.repo
    lib = repo / "Lib" / "sample.py"
    lib.write_text(lib.read_text().replace("return a + b", "return a - b"))
    git(repo, "commit", "-qam", "Speed up add")          # the bug ships in the release commit

    code, screen = drive(argv(sample, config, "--no-input"), [])
    assert code == 1, screen
    assert "build.test-source" in screen and "AssertionError: -1 != 5" in screen
    assert f"relman run {V} --redo source.release-commit" in screen, "the hint names the exact command"
    first_tag = git(repo, "rev-parse", f"{TAG}^{{commit}}")

    assert git(repo, "branch", "--show-current") == TEMP
    lib.write_text(lib.read_text().replace("return a - b", "return a + b"))
    git(repo, "commit", "-qam", "Fix add")               # the fix, committed on the temporary branch

    code, screen = drive(argv(sample, config, "--redo", "source.release-commit", "--yes"), [])
    released_through_post(sample, 1, code, screen)
    upstream = sample.upstream
    tagged = git(upstream, "rev-parse", f"{TAG}^{{commit}}")
    assert tagged != first_tag, "a new release commit was tagged"
    assert git(upstream, "log", "-1", "--format=%s", f"{TAG}^") == "Fix add", "the fix is under the release commit"
    assert git(upstream, "log", "-1", "--format=%s", TAG) == f"Python {V}"
    assert "return a + b" in git(upstream, "show", f"{TAG}:Lib/sample.py")
    assert git(upstream, "log", "--format=%s", "3.14").count(f"Python {V}") == 1, "one release commit upstream"
    j = journal(sample)
    assert j.verify(1) == []
    redo = [e for e in j.events(1) if e["kind"] == "redo"]
    assert redo and redo[0]["data"]["step"] == "source.release-commit"
    assert "build.test-source" in redo[0]["data"]["steps"] and f"tag {TAG}" in redo[0]["data"]["removed"]
    assert [a["outcome"] for a in j.attempts(1, "build.test-source")] == ["failed", "done"]


def test_abort_before_a_push_then_a_clean_new_run(tmp_path):
    sample, config = setup(tmp_path, docs=False)
    repo = sample.repo
    code, screen = drive(argv(sample, config, "--no-input"), [])
    assert code == 3, screen                             # paused at the push-fork gate, nothing pushed
    assert git(repo, "tag", "--list", TAG) == TAG

    assert not released(sample, config), "a local, unpushed tag from an unfinished run is not a release"

    code, screen = drive([sys.executable, "-m", "relman.cli.main", "abort", V, "--repo", str(repo), "--config",
                          str(config), "--state", str(sample.root / "state"), "--run", "1"], [])
    assert code == 0, screen
    assert f"removed tag {TAG}" in screen and f"removed branch {TEMP}" in screen
    assert git(repo, "tag", "--list", TAG) == "" and git(repo, "branch", "--list", TEMP) == ""
    assert git(repo, "branch", "--show-current") == "3.14"
    j = journal(sample)
    assert j.get_run(1).status == "abandoned" and j.verify(1) == []
    assert any(e["kind"] == "run-abandoned" for e in j.events(1))

    refused = cli(sample, config, "run", "--run", "1", "--no-input")
    assert refused.returncode == 2 and "abandoned" in refused.stderr and "Traceback" not in refused.stderr

    code, screen = drive(argv(sample, config, "--yes"), [])
    released_through_post(sample, 2, code, screen)
    runs = json.loads(relman("runs", "--json", "--state", str(sample.root / "state")).stdout)
    assert [r["id"] for r in runs] == [1, 2] and runs[0]["status"] == "abandoned", "a new run, not the abandoned one"
    assert git(sample.upstream, "tag", "--list", TAG) == TAG


def test_abort_after_a_push_is_refused(tmp_path):
    sample, config = setup(tmp_path, docs=False)
    code, screen = drive(argv(sample, config, "--no-input", "--approve", "push-fork"), [])
    assert code == 3, screen                             # pushed to the fork, paused before upstream
    code, screen = drive([sys.executable, "-m", "relman.cli.main", "abort", V, "--repo", str(sample.repo),
                          "--config", str(config), "--state", str(sample.root / "state")], [])
    assert code == 2, screen
    assert "something was pushed" in screen and "source.push-fork is done" in screen
    assert "burn 3.14.0rc1" in screen and "3.14.0rc2" in screen, "says what to do instead"
    assert "Traceback" not in screen
    assert git(sample.repo, "tag", "--list", TAG) == TAG, "nothing was removed"
    assert journal(sample).get_run(1).status == "paused"
    assert not released(sample, config), "on the fork is not released either"
    git(sample.repo, "push", "-q", "upstream", f"refs/tags/{TAG}")
    assert released(sample, config)


def released(sample, config) -> bool:
    """The preflight transition check, as a run would make it."""
    from types import SimpleNamespace

    from relman.config import load_settings
    from relman.errors import VersionError
    from relman.release.context import Release
    from relman.release.preflight import check_transition_valid
    from relman.vcs import Git

    release = Release(Version.parse(V), sample.repo, load_settings(sample.repo, config_file=config),
                      Git(sample.repo), sample.root / "work")
    try:
        check_transition_valid(SimpleNamespace(resources={"release": release}))  # type: ignore[arg-type]
    except VersionError as error:
        # (Unreleased, a checkout already past its post-release bump is refused for another
        # reason — the tree and the upstream tags disagree — never as "already released".)
        return f"{V} was already released: tag {TAG} exists" in str(error)
    return False


def test_changed_inputs_are_shown_accepted_once_and_rebuild(tmp_path):
    sample, config = setup(tmp_path)
    repo = sample.repo
    assert cli(sample, config, "run", "--no-input").returncode == 3
    # between invocations: a news fragment lands on the release branch, and the docs are switched off
    git(repo, "checkout", "-q", "3.14")
    fragment = repo / "Misc" / "NEWS.d" / "next" / "Library" / "2026-01-01-00-00-00.gh-issue-999.abcdef.rst"
    fragment.parent.mkdir(parents=True, exist_ok=True)
    fragment.write_text("Late fix.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add a late news entry")
    git(repo, "checkout", "-q", TEMP)
    config.write_text(config.read_text() + "[build]\ndocs = false\n")

    refused = cli(sample, config, "run", "--no-input")
    assert refused.returncode == 2, refused.stderr
    text = refused.stderr
    assert "run input config.build.docs: True -> False" in text
    assert "step build.artifacts: docs: True -> False" in text
    assert "step source.release-commit: news Misc/NEWS.d on 3.14:" in text
    assert "step source.temp-branch: branch 3.14:" in text
    assert ("affects source.temp-branch and the finished steps after it: source.release-commit, "
            "source.regen-pydoc, source.regen-configure, source.tag") in text
    assert "affects build.artifacts and the finished steps after it:" in text and "on accepting: re-run" in text

    accepted = cli(sample, config, "run", "--no-input", "--accept-changes")
    assert accepted.returncode == 3, accepted.stderr
    again = cli(sample, config, "run", "--no-input")
    assert again.returncode == 3, "the next resume does not ask again: " + again.stderr
    assert "inputs changed" not in again.stderr
    j = journal(sample)
    assert [a["outcome"] for a in j.attempts(1, "build.artifacts")] == ["done", "done"], "rebuilt once"
    assert [a["outcome"] for a in j.attempts(1, "source.release-commit")] == ["done"], "kept"
    kinds = [e["kind"] for e in j.events(1)]
    assert kinds.count("drift-accepted") == 1 and kinds.count("drift-rerun") == 1
    assert j.verify(1) == []


def test_a_tampered_journal_is_refused_and_listed(tmp_path):
    sample, config = setup(tmp_path, docs=False)
    assert cli(sample, config, "run", "--no-input").returncode == 3
    state = sample.root / "state"
    pristine = tmp_path / "pristine.db"
    with sqlite3.connect(state / "relman.db") as src, sqlite3.connect(pristine) as dst:
        src.backup(dst)
    cases = {
        "steps.outputs edited": "UPDATE steps SET outputs='{\"commit\": \"0000\"}' WHERE step_id='source.tag'",
        "approval inserted": "INSERT INTO approvals VALUES (1, 'push-fork', 'source.push-fork', 'approved',"
                             " 'mallory', 'interactive', 1.0, NULL)",
        "event edited": "UPDATE events SET data='{}' WHERE id=5",
        "last events deleted": "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id DESC LIMIT 3)",
        "runs.status edited": "UPDATE runs SET status='done'",
    }
    for name, sql in cases.items():
        (state / "relman.db").unlink()
        for extra in ("relman.db-wal", "relman.db-shm"):
            (state / extra).unlink(missing_ok=True)
        shutil.copy(pristine, state / "relman.db")
        with sqlite3.connect(state / "relman.db") as db:
            db.execute(sql)
        proc = cli(sample, config, "run", "--no-input", "--approve", "push-fork")
        assert proc.returncode == 2, (name, proc.stderr)
        assert "does not match its hash chain" in proc.stderr and "relman show --run 1" in proc.stderr, name
        assert "Traceback" not in proc.stderr
        shown = relman("show", "--run", "1", "--state", str(state))
        assert shown.returncode == 1 and "journal chain: BROKEN" in shown.stdout, name
        verified = relman("journal", "verify", "--state", str(state), "--json")
        assert verified.returncode == 1 and not json.loads(verified.stdout)[0]["ok"], name
    assert git(sample.fork, "tag", "--list", TAG) == "", "nothing was pushed from a broken journal"
