"""Small things a release manager notices: "not applicable" is said so, skipped steps are not "done",
and the temporary branch has release-tools' name."""

from __future__ import annotations

import io
from pathlib import Path

from cpython_tree import build_tree

from relman.announce.diary import diary_markdown
from relman.config import Settings
from relman.engine import Journal, Plan, Runner, Step
from relman.engine.display import PlainDisplay
from relman.release.context import Release
from relman.source.magic import check_magic_for_release
from relman.version import Version

V = Version.parse


def test_magic_number_check_says_why_it_does_not_apply(tmp_path: Path) -> None:
    build_tree(tmp_path, "3.14.0b3", "+")
    older = check_magic_for_release(tmp_path, V("3.13.5"))
    assert not older.applicable and older.ok
    assert older.message.startswith("not applicable: 3.13.5 is older than 3.14")
    assert check_magic_for_release(tmp_path, V("3.14.0rc1")).status == "match"
    (tmp_path / "Lib/test/test_importlib/test_util.py").unlink()
    missing = check_magic_for_release(tmp_path / "", V("3.14.0rc1"))
    assert missing.status == "not-applicable"
    assert "Lib/test/test_importlib/test_util.py not found" in missing.message


def test_fresh_run_says_skipped_not_already_done_and_the_diary_says_not_applicable(tmp_path: Path) -> None:
    def magic(ctx):
        ctx.log("not applicable: the files are not in the tree")
        return {"status": "not-applicable", "summary": "not applicable: the files are not in the tree"}

    def commit(ctx):
        return {"notes": [{"path": "Doc/whatsnew/index.rst", "kind": "follow-up",
                           "message": "listed 3.16.rst above 3.14.rst (3.15.rst is not listed)"},
                          {"path": "Doc/whatsnew/3.16.rst", "kind": "info", "message": "created"}]}

    steps = [Step("magic", "the bytecode magic numbers agree", magic), Step("commit", "commit", commit),
             Step("b1-only", "only at beta 1", lambda ctx: {}, condition=lambda p: False),
             Step("b1-also", "also only at beta 1", lambda ctx: {}, condition=lambda p: False),
             Step("always", "always", lambda ctx: {})]
    out = io.StringIO()
    journal = Journal(tmp_path / "state.db")
    runner = Runner(journal, Plan.build("t", steps, {}), key="t", observer=PlainDisplay(out))
    run_id = runner.create_run()
    runner.execute(run_id)
    first = out.getvalue().splitlines()[0]
    assert first == "starting run 1 (t): 5 steps, 2 skipped (their condition does not hold)"
    assert "already done" not in first
    diary = diary_markdown(journal, run_id)
    row = next(line for line in diary.splitlines() if "`magic`" in line)
    assert "not applicable: the files are not in the tree" in row and "✅" not in row
    assert "magic numbers agree" not in row
    assert ("- `commit`: `Doc/whatsnew/index.rst`: listed 3.16.rst above 3.14.rst (3.15.rst is not listed) "
            "(follow-up)") in diary
    assert "created" not in diary.split("## Notes from the edits")[1]


def test_temporary_branch_is_named_as_release_tools_names_it(tmp_path: Path) -> None:
    release = Release(V("3.14.0rc1"), tmp_path, Settings(), None, tmp_path)  # type: ignore[arg-type]
    assert release.temp_branch == "branch-3.14.0rc1"
    tagged = Settings.model_validate({"git": {"temp_branch": "branch-{tag}"}})
    assert Release(V("3.14.0rc1"), tmp_path, tagged, None, tmp_path).temp_branch == "branch-v3.14.0rc1"  # type: ignore[arg-type]
