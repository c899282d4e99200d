"""Resume never destroys the release manager's work (issue 8 point 1).

A retry of a local-effect step undoes only what relman recorded writing itself; anything
else dirty stops the run with the list of files and what to do. Probes only read, and judge
by content (tree ids), not by commit subjects.
"""

from __future__ import annotations

from pathlib import Path

from conftest import git

from .released import unfinished
from relman.demo.sample import create_sample_project
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release import context
from relman.release.session import ReleaseSession
from relman.version import Version

VERSION = "3.14.0rc1"
OVERRIDES = {"signing": {"allow_unsigned": True}, "build": {"docs": False}}



def run(sample, tmp_path):
    session = ReleaseSession.open(VERSION, sample.repo, state_dir=tmp_path / "state", overrides=OVERRIDES)
    return session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())


def a_fragment(repo: Path) -> Path:
    return min((repo / "Misc" / "NEWS.d" / "next").rglob("*.rst"))


def test_a_fix_left_uncommitted_is_never_wiped(tmp_path):
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    repo = sample.repo
    fragment = a_fragment(repo)
    good = fragment.read_text()
    fragment.write_text(".. gh-issue: not-a-number\n.. section: Nowhere\n\n" + good)
    git(repo, "commit", "-qam", "a bad fragment")

    first = run(sample, tmp_path)
    assert first.failed == ["source.release-commit"]
    assert "fix them" in first.steps["source.release-commit"].error

    fragment.write_text(good)                      # fixed in the working tree, not committed
    second = run(sample, tmp_path)
    assert fragment.read_text() == good, "the person's fix must survive the resume"
    assert second.status == "failed"
    error = next(row.error for sid, row in second.steps.items() if sid in second.failed)
    rel = str(fragment.relative_to(repo))
    assert rel in error and "commit" in error, error
    assert second.steps["source.release-commit"].status != "done"

    git(repo, "commit", "-qam", "fix the fragment")
    third = run(sample, tmp_path)
    assert unfinished(third.steps) == [], third.failed
    tag = f"v{VERSION}"
    assert not git(repo, "ls-tree", "-r", "--name-only", tag, "Misc/NEWS.d/next").endswith(".rst")
    assert "fix the fragment" in git(repo, "log", "--format=%s", tag)


def test_a_retry_undoes_only_what_relman_wrote(tmp_path, monkeypatch):
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    repo = sample.repo
    from relman.source.edits import EditSet

    original = EditSet.apply
    calls = {"n": 0}

    def bump_fails_once(self, *args, **kw):
        # (the bump is planned before anything is written; writing it is what fails here)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the bump broke after the news was released")
        return original(self, *args, **kw)

    monkeypatch.setattr(EditSet, "apply", bump_fails_once)
    first = run(sample, tmp_path)
    assert first.failed == ["source.release-commit"]
    released = repo / "Misc" / "NEWS.d" / f"{VERSION}.rst"
    assert released.is_file(), "the news was released before the failure: relman's own write"

    notes = repo / "my-notes.txt"                  # the person's file, next to relman's leftovers
    notes.write_text("do not lose me\n")
    second = run(sample, tmp_path)
    assert notes.read_text() == "do not lose me\n"
    assert second.status == "failed"
    error = next(row.error for sid, row in second.steps.items() if sid in second.failed)
    assert "my-notes.txt" in error

    notes.unlink()                                 # now only relman's own writes are left
    third = run(sample, tmp_path)
    assert unfinished(third.steps) == [], [third.steps[s].error for s in third.failed]
    assert git(repo, "log", "-1", "--format=%s", f"v{VERSION}") == f"Python {VERSION}"


def test_release_commit_probe_reads_only_and_compares_trees(tmp_path):
    from relman.release.gitops import committed

    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    repo = sample.repo
    result = run(sample, tmp_path)
    assert unfinished(result.steps) == []
    session = ReleaseSession.open(VERSION, repo, state_dir=tmp_path / "state", overrides=OVERRIDES)
    # The commit the release-commit step made (the regeneration steps amend it before the tag).
    tag_commit = result.steps["source.release-commit"].outputs["commit"]
    work = session.work_dir

    git(repo, "branch", "-q", "probe-me", tag_commit)
    head_before = git(repo, "symbolic-ref", "HEAD")
    assert committed(context.Git(repo), work,
                     "source.release-commit", "probe-me") == tag_commit
    assert git(repo, "symbolic-ref", "HEAD") == head_before, "the probe checked nothing out"

    # Same subject, same parent, different content: not the release commit.
    git(repo, "checkout", "-q", "-b", "impostor", f"{tag_commit}^")
    (repo / "impostor.txt").write_text("x\n")
    git(repo, "add", "impostor.txt")
    git(repo, "commit", "-qm", f"Python {VERSION}")
    assert committed(context.Git(repo), work, "source.release-commit", "impostor") is None
