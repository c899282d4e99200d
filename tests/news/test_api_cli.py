"""The public API and the `relman news` commands: add, release, merge."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli
from relman.errors import UsageError
from relman.news import NewsError, check_news, merge_news, release, release_news, write_fragment
from relman.news.synthetic import make_tree

from .peer import files_under, run_blurb, twin

TEXT = ("Fix a crash in :mod:`tarfile` when an archive holds a member whose name is longer than "
        "the header allows.  Patch by Jane Doe.\n\n* first item\n* second item\n\nMore text after it, "
        "long enough to be reflowed by both tools at the seventy-six column margin.\n")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    make_tree(root, released=1, per_version=4, next_count=3, seed=4)
    return root


def editor_script(tmp_path: Path, body: str) -> str:
    """An $EDITOR that appends `body` to the template it is given."""
    (tmp_path / "body.txt").write_text(body)
    script = tmp_path / "fake-editor"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open(sys.argv[-1], 'a').write(open({str(tmp_path / 'body.txt')!r}).read())\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize("args, section, cve", [
    (["-i", "135123", "-s", "Library"], "Library", None),
    (["-i", "gh-135124", "-s", "security", "-c", "cve-2025-1234"], "Security", "cve-2025-1234"),
    (["-i", "135125", "-s", "C API"], "C API", None),
])
def test_write_fragment_matches_blurb_add(tree, tmp_path, args, section, cve):
    theirs, ours = twin(tree, tmp_path)
    editor = editor_script(tmp_path, TEXT)
    run_blurb(theirs, "add", *args, env={"EDITOR": editor, "GIT_EDITOR": editor})
    status = git(theirs, "status", "--porcelain")
    added = [line[3:] for line in status.splitlines() if line.startswith("A ")]
    assert len(added) == 1
    their_file = theirs / added[0]
    when = dt.datetime.strptime(their_file.name.split(".")[0], "%Y-%m-%d-%H-%M-%S")
    issue = args[1]
    path = write_fragment(ours / "Misc" / "NEWS.d", section, issue, TEXT, when=when, cve=cve)
    assert path.relative_to(ours) == their_file.relative_to(theirs)
    assert path.read_bytes() == their_file.read_bytes()


def test_write_fragment_validates_like_merge(tree):
    news = tree / "Misc" / "NEWS.d"
    with pytest.raises(UsageError, match="unknown section"):
        write_fragment(news, "Nowhere", 135000, "Text.")
    with pytest.raises(UsageError, match="invalid issue"):
        write_fragment(news, "Library", "issue one", "Text.")
    with pytest.raises(NewsError, match="32426"):
        write_fragment(news, "Library", 12, "Text.")
    with pytest.raises(UsageError, match="only be given for the 'Security'"):
        write_fragment(news, "Library", 135000, "Text.", cve="CVE-2025-1234")
    with pytest.raises(NewsError, match="must not start with 'gh-'"):
        write_fragment(news, "Library", 135000, "gh-135000: prefixed by hand")
    with pytest.raises(UsageError, match="empty"):
        write_fragment(news, "Library", 135000, "  \n")
    path = write_fragment(news, "library", "bpo-4321", "An old one.", when=dt.datetime(2025, 1, 2, 3, 4, 5),
                          nonce="Nonce1")
    assert path == news / "next" / "Library" / "2025-01-02-03-04-05.bpo-4321.Nonce1.rst"
    with pytest.raises(UsageError, match="already exists"):
        write_fragment(news, "library", "bpo-4321", "An old one.", when=dt.datetime(2025, 1, 2, 3, 4, 5),
                       nonce="Nonce1")
    assert check_news(news) == []


def test_release_consumes_fragments_and_refuses_to_repeat(tree):
    news = tree / "Misc" / "NEWS.d"
    fragments = [p for p in (news / "next").rglob("*.rst") if p.name != "README.rst"]
    result = release(news, "3.15.0a2", date="2025-02-03")
    assert result.path == news / "3.15.0a2.rst" and not result.no_changes
    assert sorted(result.consumed) == sorted(fragments)
    assert not any(p.exists() for p in fragments)
    assert all((news / "next" / d / "README.rst").exists() for d in ("Library", "C_API"))
    assert ".. release date: 2025-02-03\n" in result.path.read_text()
    text = result.path.read_text()
    with pytest.raises(UsageError, match="already exists"):
        release_news(news, "3.15.0a2")
    assert result.path.read_text() == text


def test_release_without_fragments_records_no_changes(tree, tmp_path):
    news = tree / "Misc" / "NEWS.d"
    release_news(news, "3.15.0a2", date="2025-02-03")
    path = release_news(news, "3.15.0a3", date="2025-03-04")
    assert path.read_text().endswith("There were no new changes in version 3.15.0a3.\n")
    assert "What's New in Python 3.15.0 alpha 3?\n" in merge_news(news)


def test_release_rejects_bad_versions_and_dates(tree):
    news = tree / "Misc" / "NEWS.d"
    with pytest.raises(UsageError):
        release_news(news, "three")
    with pytest.raises(UsageError, match="release date"):
        release_news(news, "3.15.0a2", date="02/03/2025")
    with pytest.raises(UsageError, match="does not exist"):
        release_news(tree / "nowhere", "3.15.0a2")


def test_merge_writes_only_on_change_and_never_prompts(tree, tmp_path):
    news = tree / "Misc" / "NEWS.d"
    out = tmp_path / "NEWS"
    text = merge_news(news, out)
    assert out.read_text() == text and not text.endswith("\n")
    os.utime(out, (1, 1))
    merge_news(news, out)
    assert out.stat().st_mtime == 1  # unchanged content: not rewritten
    write_fragment(news, "Library", 135999, "Something new.")
    assert merge_news(news, out) != text and out.stat().st_mtime != 1


def test_merge_version_hint_names_the_unreleased_section(tree):
    text = merge_news(tree / "Misc" / "NEWS.d", version_hint="3.15.0a2")
    assert "What's New in Python 3.15.0 alpha 2?\n====================================\n\n" \
           "*Release date: XXXX-XX-XX*" in text
    assert "Python next?" not in text


def test_cli_add_release_merge_round_trip(tree, monkeypatch):
    monkeypatch.chdir(tree / "Misc")  # found by walking up
    runner = CliRunner()
    result = runner.invoke(cli, ["news", "add", "-i", "135777", "-s", "core and builtins", "-t", "A CLI entry.",
                                 "--json"])
    assert result.exit_code == 0, result.output
    added = Path(json.loads(result.stdout)["path"])
    assert added.parent.name == "Core_and_Builtins" and json.loads(result.stdout)["staged"]
    assert added.name.endswith(".gh-issue-135777." + added.name.split(".")[2] + ".rst")
    assert f"A  Misc/NEWS.d/next/Core_and_Builtins/{added.name}" in git(tree, "status", "--porcelain")

    result = runner.invoke(cli, ["news", "release", "3.15.0a2", "--date", "2025-04-05", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == "3.15.0a2" and len(document["consumed"]) == 4 and document["staged"]
    status = git(tree, "status", "--porcelain").splitlines()
    assert "A  Misc/NEWS.d/3.15.0a2.rst" in status
    assert sum(line.startswith("D  Misc/NEWS.d/next/") for line in status) == 3  # committed ones
    assert not any(line.startswith((" D", "??")) for line in status)

    result = runner.invoke(cli, ["news", "release", "3.15.0a2"])
    assert result.exit_code == 2 and "already exists" in result.output and "Traceback" not in result.output

    result = runner.invoke(cli, ["news", "merge", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["written"] and Path(document["output"]) == tree / "Misc" / "NEWS"
    assert "- gh-135777: A CLI entry.\n" in (tree / "Misc" / "NEWS").read_text()
    result = runner.invoke(cli, ["news", "merge"])
    assert result.exit_code == 0 and "already up to date" in result.output


def test_cli_add_with_editor(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "Written in the editor.\n"))
    monkeypatch.delenv("GIT_EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    runner = CliRunner()
    # The template gets the issue and section from the flags; the editor adds the text.
    result = runner.invoke(cli, ["news", "add", "-i", "135778", "-s", "IDLE", "--no-git", "--edit",
                                 "--news-dir", str(tree / "Misc" / "NEWS.d")])
    assert result.exit_code == 0, result.output
    made = list((tree / "Misc" / "NEWS.d" / "next" / "IDLE").glob("*.gh-issue-135778.*.rst"))
    assert len(made) == 1 and made[0].read_text() == "Written in the editor.\n"

    # Without an issue the template is left unfilled: nothing is written, the reason is given.
    result = runner.invoke(cli, ["news", "add", "-s", "IDLE", "--no-git", "--edit",
                                 "--news-dir", str(tree / "Misc" / "NEWS.d")])
    assert result.exit_code == 2 and "not saved" in result.output and "gh-issue" in result.output
    kept = re.search(r"your text is kept in (\S+?);", result.output)
    assert kept and "Written in the editor." in Path(kept[1]).read_text()
    assert len(list((tree / "Misc" / "NEWS.d" / "next" / "IDLE").glob("*.rst"))) == 2  # README + one


def test_cli_add_needs_issue_and_section(tree):
    runner = CliRunner()
    news = str(tree / "Misc" / "NEWS.d")
    result = runner.invoke(cli, ["news", "add", "-s", "Library", "-t", "x", "--news-dir", news])
    assert result.exit_code == 2 and "--issue is required" in result.output
    result = runner.invoke(cli, ["news", "add", "-i", "135000", "-s", "Nope", "-t", "x", "--news-dir", news])
    assert result.exit_code == 2 and "unknown section 'Nope'" in result.output


def test_cli_needs_a_news_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["news", "merge"])
    assert result.exit_code == 2 and "no Misc/NEWS.d found" in result.output


def test_release_then_merge_matches_blurb_files(tree, tmp_path):
    """The files left after a release are the ones blurb leaves (README.rst files stay)."""
    theirs, ours = twin(tree, tmp_path)
    run_blurb(theirs, "release", "3.15.0a2")
    release_news(ours / "Misc" / "NEWS.d", "3.15.0a2")
    assert files_under(ours / "Misc") == files_under(theirs / "Misc")


def test_cli_add_keeps_the_text_and_reopens_the_editor_after_an_error(tree, tmp_path, monkeypatch):
    """Like blurb: a validation error shows the problem and opens the editor again on the same
    text; the second pass fills in the issue and the entry is written with the first pass's text."""
    calls = tmp_path / "calls"
    script = tmp_path / "two-pass-editor"
    script.write_text(f"""#!{sys.executable}
import pathlib, re, sys
path, calls = pathlib.Path(sys.argv[-1]), pathlib.Path({str(calls)!r})
count = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(count))
text = path.read_text()
if count == 1:
    path.write_text(text + "Kept from the first edit.\\n")
else:
    assert "Kept from the first edit." in text, "the text of the first edit was lost"
    path.write_text(re.sub(r"^\\.\\. gh-issue:.*$", ".. gh-issue: 135779", text, flags=re.M))
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("GIT_EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    result = CliRunner().invoke(cli, ["news", "add", "-s", "IDLE", "--no-git", "--edit",
                                      "--news-dir", str(tree / "Misc" / "NEWS.d")], input="\n")
    assert result.exit_code == 0, result.output
    assert calls.read_text() == "2" and "gh-issue" in result.output and "edit the entry again" in result.output
    made = list((tree / "Misc" / "NEWS.d" / "next" / "IDLE").glob("*.gh-issue-135779.*.rst"))
    assert len(made) == 1 and made[0].read_text() == "Kept from the first edit.\n"
