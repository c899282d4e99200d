"""test-source (unpack, make, make test) and the docs build (Sphinx, packaging, "(unreleased)")."""

from __future__ import annotations

import tarfile
import zipfile

import pytest

from conftest import require_tool
from relman.artifacts import testsource
from relman.artifacts.archive import build_source_archives
from relman.artifacts.docs import build_docs, check_unreleased
from relman.errors import CheckFailed, StepFailed

from .conftest import fake_news, make_repo, sample_files


def test_test_source_passes_on_a_good_tree(sample_repo, tmp_path):
    require_tool("make")
    require_tool("cc")
    build = build_source_archives(sample_repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    result = testsource.test_source(build.files[0].path, profile="demo", work_dir=tmp_path)
    assert result.ok
    assert result.commands == [["make"], ["make", "test"]]
    assert result.tree.name == "Python-3.14.0rc1"
    assert (result.tree / "prog").is_file()        # built in the unpacked tree, not the checkout
    assert not (sample_repo / "prog").exists()


def test_test_source_fails_with_the_tail_of_the_output(tmp_path):
    require_tool("make")
    require_tool("cc")
    repo = make_repo(tmp_path / "r", sample_files(expected="goodbye"))
    build = build_source_archives(repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    with pytest.raises(StepFailed) as info:
        testsource.test_source(build.files[1].path, profile="demo", work_dir=tmp_path)
    message = info.value.message
    assert "`make test` exited" in message
    assert "./prog | grep -q goodbye" in message          # the tail of the log is in the error
    assert testsource.main([str(build.files[1].path), "--profile", "demo", "--work-dir", str(tmp_path)]) == 1


def test_test_source_rejects_a_corrupt_archive(tmp_path):
    bad = tmp_path / "Python-3.14.0.tgz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(StepFailed, match="cannot unpack"):
        testsource.test_source(bad, profile="demo", work_dir=tmp_path)


def test_docs_are_built_and_packaged_for_rc(sample_repo, tmp_path):
    out = tmp_path / "out"
    result = build_docs(sample_repo, "3.14.0rc1", out, profile="demo", generate=fake_news)
    assert not result.skipped
    assert [f.name for f in result.files] == ["python-3.14.0rc1-docs-html.zip", "python-3.14.0rc1-docs-html.tar.bz2",
                                              "python-3.14.0rc1-docs-text.tar.bz2"]
    with zipfile.ZipFile(out / "python-3.14.0rc1-docs-html.zip") as archive:
        names = archive.namelist()
        assert "python-3.14.0rc1-docs-html/index.html" in names
        assert "Sample docs" in archive.read("python-3.14.0rc1-docs-html/index.html").decode()
        assert names == sorted(names, key=lambda n: n.rstrip("/").split("/"))
    with tarfile.open(out / "python-3.14.0rc1-docs-text.tar.bz2") as tar:
        text = tar.extractfile("python-3.14.0rc1-docs-text/index.txt").read().decode()
        assert "Something new." in text
    # packaging is deterministic
    again = build_docs(sample_repo, "3.14.0rc1", tmp_path / "again", profile="demo", generate=fake_news)
    assert [f.sha256 for f in again.files] == [f.sha256 for f in result.files]


def test_docs_skipped_before_rc(sample_repo, tmp_path):
    result = build_docs(sample_repo, "3.14.0b3", tmp_path / "out", profile="demo")
    assert result.skipped and "not a release candidate" in result.reason
    assert not (tmp_path / "out").exists()


def test_docs_fail_on_unreleased(tmp_path):
    files = sample_files()
    files["Doc/index.rst"] += "\nThis API is new (unreleased).\n"
    repo = make_repo(tmp_path / "r", files)
    with pytest.raises(CheckFailed, match=r"\(unreleased\)") as info:
        build_docs(repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    assert "index.html:" in info.value.message
    html = tmp_path / "html"
    html.mkdir()
    (html / "a.html").write_text("<p>ok</p>\n<p>Added in version 3.14 (unreleased)</p>\n")
    assert check_unreleased(html) == ["a.html:2: <p>Added in version 3.14 (unreleased)</p>"]
