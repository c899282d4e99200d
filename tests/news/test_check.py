"""`check`: every problem at once, with file and line, exit 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli
from relman.news import NewsError, check_news, merge_news, release_news
from relman.news.synthetic import make_tree


@pytest.fixture()
def news(tmp_path) -> Path:
    return make_tree(tmp_path / "tree", released=2, per_version=5, next_count=6, seed=3, git=False)


def put(news: Path, relative: str, content: str | bytes) -> Path:
    path = news / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def by_file(problems) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for p in problems:
        out.setdefault(p.path.name, []).append((p.line, p.message))
    return out


def test_a_generated_tree_is_clean(news):
    assert check_news(news) == []


def test_every_problem_is_reported_with_its_line(news):
    put(news, "next/Library/2025-01-01-00-00-01.gh-issue-135001.aaaaaa.rst",
        "# comment\n.. section: Library\n.. cve: 2025\n\ngh-12: bad start\n")
    put(news, "next/Library/2025-01-01-00-00-02.gh-issue-12.bbbbbb.rst", "Too small a number.\n")
    put(news, "next/Library/2025-01-01-00-00-03.gh-issue-abc.cccccc.rst", "Not a number.\n")
    put(news, "next/Security/2025-01-01-00-00-04.gh-issue-135004.dddddd.rst",
        "#.. cve: CVE-2025-1111\n\nCommented-out CVE.\n")
    put(news, "next/Tests/2025-01-01-00-00-05.gh-issue-135005.eeeeee.rst", "One.\n\n..\n\nTwo.\n")
    put(news, "next/Tests/2025-01-01-00-00-06.gh-issue-135006.ffffff.rst", "# only a comment\n")
    put(news, "next/Tests/2025-01-01-00-00-07.gh-issue-135007.gggggg.rst", ".. no colon here\n\nText.\n")
    put(news, "next/Tests/2025-01-01-00-00-08.gh-issue-135008.hhhhhh.rst", b"\xff\xfe bad bytes\n")
    put(news, "next/Tests/not-a-fragment.rst", "Text.\n")
    put(news, "next/Tests/2025-01-01.issue-135009.iiiiii.rst", "Text.\n")
    put(news, "3.14.0a3.rst", ".. gh-issue: 135010\n.. section: Nowhere\n\nNo release date either.\n")
    problems = by_file(check_news(news))

    first = problems["2025-01-01-00-00-01.gh-issue-135001.aaaaaa.rst"]
    assert (2, "'section' is set twice (already by the file name)") in first
    assert any(line == 3 and "invalid CVE identifier '2025'" in m for line, m in first)
    assert any(line == 3 and "'cve' may only be used in the 'Security' section" in m for line, m in first)
    assert any(line == 5 and "must not start with 'gh-'" in m for line, m in first)
    assert any("must start at 32426" in m or "start at 32426" in m
               for _, m in problems["2025-01-01-00-00-02.gh-issue-12.bbbbbb.rst"])
    assert any("invalid GitHub number 'abc'" in m for _, m in problems["2025-01-01-00-00-03.gh-issue-abc.cccccc.rst"])
    assert any(line == 1 and "commented out" in m
               for line, m in problems["2025-01-01-00-00-04.gh-issue-135004.dddddd.rst"])
    assert any("exactly one entry" in m for _, m in problems["2025-01-01-00-00-05.gh-issue-135005.eeeeee.rst"])
    assert any("no text" in m for _, m in problems["2025-01-01-00-00-06.gh-issue-135006.ffffff.rst"])
    assert any(line == 1 and "has no ':'" in m for line, m in problems["2025-01-01-00-00-07.gh-issue-135007.gggggg.rst"])
    assert any("not valid UTF-8" in m for _, m in problems["2025-01-01-00-00-08.gh-issue-135008.hhhhhh.rst"])
    assert any("cannot read the file name" in m for _, m in problems["not-a-fragment.rst"])
    assert any("'issue-135009'" in m for _, m in problems["2025-01-01.issue-135009.iiiiii.rst"])
    assert any(line == 2 and "invalid section 'Nowhere'" in m for line, m in problems["3.14.0a3.rst"])


def test_release_date_is_required_in_version_files(news):
    put(news, "3.14.0a3.rst", ".. gh-issue: 135010\n.. section: Library\n\nNo release date.\n")
    assert [(p.line, "release date" in p.message) for p in check_news(news)] == [(1, True)]


def test_files_blurb_would_skip_are_reported(news):
    put(news, "next/Libary/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst", "Typo in the folder.\n")
    put(news, "next/loose.rst", "Not in a section.\n")
    put(news, "next/Library/notes.txt", "Not .rst\n")
    put(news, "next/Library/sub/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst", "Nested.\n")
    put(news, "next/.hidden/ignored.rst", "Hidden folders are nobody's business.\n")
    messages = {p.path.relative_to(news / "next").as_posix(): p.message for p in check_news(news)}
    typo = messages["Libary/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst"]
    assert "unknown section folder 'Libary'" in typo and "did you mean 'Library'" in typo
    assert "directly in next/" in messages["loose.rst"]
    assert "not a .rst file" in messages["Library/notes.txt"]
    assert "nested folder" in messages["Library/sub/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst"]
    assert len(messages) == 4  # nothing about the hidden folder


def test_release_refuses_misplaced_fragments_and_writes_nothing(news):
    put(news, "next/Libary/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst", "Typo in the folder.\n")
    before = sorted(p for p in news.rglob("*"))
    with pytest.raises(NewsError) as caught:
        release_news(news, "3.15.0a3")
    assert "Libary" in str(caught.value)
    assert sorted(p for p in news.rglob("*")) == before


def test_merge_lists_every_problem_in_one_error(news):
    put(news, "next/Library/2025-01-01-00-00-01.gh-issue-1.aaaaaa.rst", "Bad issue.\n")
    put(news, "next/Tests/2025-01-01-00-00-02.gh-issue-135002.bbbbbb.rst", "- bad start\n")
    with pytest.raises(NewsError) as caught:
        merge_news(news)
    assert len(caught.value.problems) == 2
    assert caught.value.exit_code == 2


def test_cli_check_prints_file_line_message_and_exits_2(news, monkeypatch):
    put(news, "next/Library/2025-01-01-00-00-01.gh-issue-1.aaaaaa.rst", "Bad issue.\n")
    put(news, "next/Tests/2025-01-01-00-00-02.gh-issue-135002.bbbbbb.rst", "\n\n- bad start\n")
    monkeypatch.chdir(news.parent.parent)
    result = CliRunner().invoke(cli, ["news", "check"])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "Misc/NEWS.d/next/Library/2025-01-01-00-00-01.gh-issue-1.aaaaaa.rst:1: invalid gh-issue number '1'" \
        in lines[0]
    assert lines[1].startswith("Misc/NEWS.d/next/Tests/2025-01-01-00-00-02.gh-issue-135002.bbbbbb.rst:3: ")
    assert "Traceback" not in result.output

    result = CliRunner().invoke(cli, ["news", "check", "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and len(document["problems"]) == 2
    assert {p["line"] for p in document["problems"]} == {1, 3}


def test_cli_check_clean_tree_exits_0(news):
    result = CliRunner().invoke(cli, ["news", "check", "--news-dir", str(news), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"news_dir": str(news), "ok": True, "versions": 2, "problems": [],
                                             "warnings": []}
