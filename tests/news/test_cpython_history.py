"""News as CPython's tree has it: historical fragment names, a BOM, canonical versions, blurb's section order.

The historical names are real ones from CPython's history (`0074.bpo-28138.pNdv64.rst` from the
2017 migration, `2017-09-18.bpo-31507.dgs67n.rst` with a date only); blurb 2.3.0 accepts them, so
check, release and merge must too, and release/merge must give blurb's bytes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli
from relman.errors import UsageError
from relman.news import api
from relman.news.sections import LEGACY_SECTIONS, SECTIONS, sections_for
from relman.news.synthetic import make_tree

from .peer import files_under, init_git, release_date_of, run_blurb, twin

HISTORICAL = [
    ("Library", "0074.bpo-28138.pNdv64.rst",
     "In :class:`email.message.Message`, the headers are now kept in order when one is replaced.\n"),
    ("Core_and_Builtins", "2017-09-18.bpo-31507.dgs67n.rst",
     "Add a modern :func:`os.sched_getaffinity` fallback for a platform that lacks it.\n"),
    ("Library", "2017-09-18.bpo-31499.XyZ-_9.rst", "A second entry from the same day, with a dash and an "
                                                      "underscore in its nonce.\n"),
    ("Library", "2025-06-01-12-30-00.gh-issue-135000.AbCdEf.rst", "A modern fragment.\n"),
]


def historical_tree(root: Path) -> Path:
    news = make_tree(root, released=2, per_version=4, next_count=0, seed=3, git=False)
    for folder, name, text in HISTORICAL:
        (news / "next" / folder / name).write_text(text, encoding="utf-8")
    init_git(root)
    return news


def test_check_accepts_historical_names_and_warns(tmp_path, monkeypatch):
    news = historical_tree(tmp_path / "tree")
    warnings: list = []
    assert api.check_news(news, warnings=warnings) == []
    warned = sorted(Path(w.path).name for w in warnings)
    assert warned == ["0074.bpo-28138.pNdv64.rst", "2017-09-18.bpo-31499.XyZ-_9.rst",
                      "2017-09-18.bpo-31507.dgs67n.rst"]
    monkeypatch.chdir(tmp_path / "tree")
    result = CliRunner().invoke(cli, ["news", "check", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["problems"] == [] and len(data["warnings"]) == 3


def test_release_and_merge_of_historical_names_match_blurb(tmp_path):
    historical_tree(tmp_path / "tree")
    theirs, ours = twin(tmp_path / "tree", tmp_path)
    run_blurb(theirs, "merge", "-f")
    assert api.merge_news(ours / "Misc" / "NEWS.d").encode() == (theirs / "Misc" / "NEWS").read_bytes()
    run_blurb(theirs, "release", "3.15.0a3")
    their_file = theirs / "Misc" / "NEWS.d" / "3.15.0a3.rst"
    result = api.release(ours / "Misc" / "NEWS.d", "3.15.0a3", date=release_date_of(their_file))
    assert result.path.read_bytes() == their_file.read_bytes()
    assert len(result.consumed) == len(HISTORICAL)
    (theirs / "Misc" / "NEWS").unlink()
    assert files_under(ours / "Misc") == files_under(theirs / "Misc")
    # blurb orders within a section by file name, newest first: the 4-digit migration name sorts last.
    text = result.path.read_text()
    assert text.index("gh-issue: 135000") < text.index("bpo: 31499") < text.index("bpo: 28138")


def test_check_flags_a_utf8_bom(tmp_path):
    news = historical_tree(tmp_path / "tree")
    path = news / "next" / "Library" / "2025-06-02-10-00-00.gh-issue-135001.BoMbOm.rst"
    path.write_bytes(b"\xef\xbb\xbfA fragment saved by an editor that adds a byte order mark.\n")
    problems = api.check_news(news)
    assert [(Path(p.path).name, p.line) for p in problems] == [(path.name, 1)]
    assert "byte order mark" in problems[0].message and "without a BOM" in problems[0].message
    result = CliRunner().invoke(cli, ["news", "check", "--news-dir", str(news)])
    assert result.exit_code == 2 and "byte order mark" in result.output


@pytest.mark.parametrize(("given", "canonical"), [("v3.15.0a3", "3.15.0a3"), ("3.15.0c1", "3.15.0rc1"),
                                                  ("3.15", "3.15.0"), ("3.15.0.rc1", "3.15.0rc1")])
def test_release_refuses_a_non_canonical_version(tmp_path, given, canonical):
    news = historical_tree(tmp_path / "tree")
    before = files_under(news)
    with pytest.raises(UsageError) as raised:
        api.release(news, given)
    assert canonical in (raised.value.hint or "")
    assert files_under(news) == before  # nothing written, nothing removed
    result = CliRunner().invoke(cli, ["news", "release", given, "--news-dir", str(news), "--no-git"])
    assert result.exit_code == 2 and canonical in result.output


def test_sections_for_blurb_versions():
    assert sections_for("2.3.0") == SECTIONS == sections_for(None) and len(SECTIONS) == 17
    assert sections_for("2.2.0") == LEGACY_SECTIONS == sections_for("1.1") and len(LEGACY_SECTIONS) == 11
    assert [s for s in SECTIONS if s in LEGACY_SECTIONS] == list(LEGACY_SECTIONS)  # same relative order
    with pytest.raises(ValueError, match="2.3.0"):
        sections_for("latest")


def test_legacy_blurb_version_from_relman_toml(tmp_path, monkeypatch):
    """With blurb 2.2.0 configured, an iOS fragment is one that blurb would skip: refused, not merged."""
    root = tmp_path / "tree"
    news = historical_tree(root)
    (news / "next" / "iOS").mkdir(exist_ok=True)
    ios = news / "next" / "iOS" / "2025-06-03-09-00-00.gh-issue-135002.iOSiOS.rst"
    ios.write_text("Build the iOS framework with the new toolchain.\n")
    monkeypatch.chdir(root)
    assert CliRunner().invoke(cli, ["news", "check"]).exit_code == 0  # 2.3.0 knows iOS
    (root / "relman.toml").write_text('[news]\nblurb_version = "2.2.0"\n')
    result = CliRunner().invoke(cli, ["news", "check"])
    assert result.exit_code == 2
    assert "never merged or released" in result.output and "blurb_version" in result.output
    refused = CliRunner().invoke(cli, ["news", "release", "3.15.0a3", "--no-git"])
    assert refused.exit_code == 2 and ios.exists()
    ios.unlink()
    released = CliRunner().invoke(cli, ["news", "release", "3.15.0a3", "--no-git"])
    assert released.exit_code == 0, released.output
    (root / "relman.toml").write_text('[news]\nblurb_version = "next"\n')
    bad = CliRunner().invoke(cli, ["news", "merge"])
    assert bad.exit_code == 2 and "blurb_version" in bad.output


def test_the_release_pipeline_keeps_the_historical_fragments_in_git(tmp_path):
    """`git status` after release: the historical fragments are staged as removed, like blurb does."""
    root = tmp_path / "tree"
    historical_tree(root)
    result = CliRunner().invoke(cli, ["news", "release", "3.15.0a3", "--news-dir", str(root / "Misc" / "NEWS.d"),
                                      "--date", "2025-06-04"])
    assert result.exit_code == 0, result.output
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert "D  Misc/NEWS.d/next/Library/0074.bpo-28138.pNdv64.rst" in status
    assert "A  Misc/NEWS.d/3.15.0a3.rst" in status
