"""Reproducible source archives: determinism, export rules, normalisation, the reproducibility gate."""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relman.artifacts.archive import (build_source_archives, check_reproducible, export_tree, gzip_bytes,
                                      read_archive_members, read_tree, xz_bytes)
from relman.artifacts.manifest import DEMO
from relman.errors import CheckFailed, UsageError

from .conftest import fake_news, make_repo

EPOCH = 1791374400  # 2026-10-07T12:00:00Z, the fixture commit date


def members(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path, "r:*") as tar:
        return tar.getmembers()


# ---- determinism over random trees ------------------------------------------------------------

_names = st.text(alphabet="abcXYZ019-_. é", min_size=1, max_size=8).filter(
    lambda n: n not in (".", "..") and not n.startswith(".git") and n.strip() == n)


@st.composite
def trees(draw):
    files = draw(st.dictionaries(
        st.lists(_names, min_size=1, max_size=3).map("/".join),
        st.tuples(st.binary(max_size=300), st.booleans()), min_size=1, max_size=12))
    # a file path must not also be a folder of another path
    paths = sorted(files)
    clean = {p: v for p, v in files.items()
             if not any(q.startswith(p + "/") for q in paths) and not any(p.startswith(q + "/") for q in paths if q != p)}
    links = {}
    for i, target in enumerate(draw(st.lists(st.sampled_from(sorted(clean)), max_size=3))):
        link = f"links{i}/l{i}"
        links[link] = posixpath.relpath(target, posixpath.dirname(link))
    empties = draw(st.lists(_names, max_size=2, unique=True))
    return clean, links, empties


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_two_builds_of_any_tree_are_identical(tree):
    files, links, empties = tree
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        content = {p: data for p, (data, _) in files.items()}
        for name in empties:  # a folder whose only content is removed by the export rules
            content[f"empty-{name}/__pycache__/x.pyc"] = b"junk"
        repo = make_repo(root / "a", content, executable=tuple(p for p, (_, x) in files.items() if x),
                         symlinks=links)
        clone = root / "b"
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        first = build_source_archives(repo, "3.14.0rc1", root / "out1", profile="demo")
        second = build_source_archives(clone, "3.14.0rc1", root / "out2", profile="demo")
        assert [(f.name, f.sha256) for f in first.files] == [(f.name, f.sha256) for f in second.files]
        for f in first.files:
            assert f.path.read_bytes() == (root / "out2" / f.name).read_bytes()
            assert hashlib.sha256(f.path.read_bytes()).hexdigest() == f.sha256
        infos = members(first.files[0].path)
        names = [i.name for i in infos]
        assert names[0] == "Python-3.14.0rc1"
        assert names == sorted(names, key=lambda n: n.split("/"))
        for info in infos:
            assert (info.uid, info.gid, info.uname, info.gname, info.mtime) == (0, 0, "", "", EPOCH)
            assert "atime" not in info.pax_headers and "ctime" not in info.pax_headers
        by_name = {i.name.split("/", 1)[1]: i for i in infos if "/" in i.name}
        for path, (data, executable) in files.items():
            assert by_name[path].mode == (0o755 if executable else 0o644)
        for link, target in links.items():
            assert by_name[link].issym() and by_name[link].linkname == target
        for name in empties:
            assert by_name[f"empty-{name}"].isdir()
            assert f"empty-{name}/__pycache__" not in by_name


# ---- export rules ----------------------------------------------------------------------------

def test_export_rules_on_a_cpython_shaped_tree(sample_repo, tmp_path):
    build = build_source_archives(sample_repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    names = {i.name.split("/", 1)[1] for i in members(tmp_path / "out/Python-3.14.0rc1.tar.xz") if "/" in i.name}
    for gone in (".github", ".github/workflows/ci.yml", ".gitignore", ".gitattributes", "Misc/NEWS.d",
                 "Lib/__pycache__", "Lib/stale.pyc"):
        assert gone not in names
    assert {"Misc/NEWS", "Lib/os.py", "Makefile", "Tools/readme", "Misc/sbom.spdx.json"} <= names
    assert build.generated == ["Misc/NEWS"]
    assert "Misc/NEWS.d/next/Library/2026-10-01-10-00-00.gh-issue-1.abcdef.rst" in build.removed
    # the hook saw the fragments before they were removed
    news = read_archive_members(tmp_path / "out/Python-3.14.0rc1.tgz")["Misc/NEWS"]
    assert news.size > 40
    # the working tree does not matter: only the tag does
    (sample_repo / "Lib/os.py").write_text("changed in the working tree\n")
    (sample_repo / "untracked.txt").write_text("x")
    again = build_source_archives(sample_repo, "3.14.0rc1", tmp_path / "out2", profile="demo", generate=fake_news)
    assert [f.sha256 for f in again.files] == [f.sha256 for f in build.files]


def test_export_rules_on_the_sample_project(tmp_path):
    from relman.demo.sample import create_sample_project
    from relman.version import Version

    project = create_sample_project(tmp_path / "demo", Version.parse("3.14.0rc1"))
    subprocess.run(["git", "tag", "-a", "v3.14.0rc1", "-m", "rc1"], cwd=project.repo, check=True)
    from relman.cli.artifacts_cmd import default_news_hook, pick_profile
    profile = pick_profile("auto", project.repo)
    assert profile.name == "demo"
    build = build_source_archives(project.repo, "3.14.0rc1", tmp_path / "out", profile=profile,
                                  generate=default_news_hook(profile, Version.parse("3.14.0rc1")))
    names = set(read_archive_members(build.files[0].path))
    assert "Misc/NEWS" in names and "Makefile" in names
    assert not any(n.startswith((".github/", "Misc/NEWS.d/")) or n in (".gitignore", ".gitattributes")
                   for n in names)
    news = read_archive_members(build.files[1].path)["Misc/NEWS"]
    assert news.size > 100


def test_news_folder_without_hook_is_a_usage_error(sample_repo, tmp_path):
    with pytest.raises(UsageError, match="no news hook"):
        build_source_archives(sample_repo, "3.14.0rc1", tmp_path / "out", profile="demo")


def test_symlink_escaping_the_tree_stops_the_build(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.txt": "a"}, symlinks={"Lib/evil": "../../etc/passwd", "abs": "/etc/passwd"})
    with pytest.raises(CheckFailed, match="points outside the source tree"):
        build_source_archives(repo, "3.14.0rc1", tmp_path / "out", profile="demo")
    tree = read_tree(repo, "v3.14.0rc1")
    result = export_tree(tree.entries, DEMO, symlinks="drop")
    assert {"Lib/evil", "abs"} <= set(result.removed)


def test_missing_tag_is_a_usage_error(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.txt": "a"})
    with pytest.raises(UsageError, match="does not exist"):
        build_source_archives(repo, "3.14.0", tmp_path / "out", profile="demo")


# ---- compressors -----------------------------------------------------------------------------

def test_gzip_header_has_no_name_and_no_time():
    data = b"hello world\n" * 1000
    out = gzip_bytes(data, 9)
    assert out[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
    assert gzip.decompress(out) == data
    with gzip.GzipFile(fileobj=io.BytesIO(out)) as handle:
        handle.read()
        assert handle.mtime == 0 and handle.name == ""


def test_xz_output_does_not_depend_on_thread_count(monkeypatch):
    import lzma
    import os
    data = os.urandom(1 << 16) * 40   # 2.5 MiB: several blocks
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    two = xz_bytes(data, 1, blocks=3)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    five = xz_bytes(data, 1, blocks=3)
    assert two == five
    assert lzma.decompress(two) == data


# ---- the reproducibility gate ------------------------------------------------------------------

def test_reproducibility_gate_passes_and_catches_a_nondeterministic_hook(sample_repo, tmp_path):
    build = check_reproducible(sample_repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    assert len(build.files) == 2
    counter = iter(range(100))

    def unstable(files):
        return {"Misc/NEWS": f"built {next(counter)}\n".encode()}

    with pytest.raises(CheckFailed, match="not reproducible") as info:
        check_reproducible(sample_repo, "3.14.0rc1", tmp_path / "out2", profile="demo", generate=unstable)
    assert "Python-3.14.0rc1.tgz" in info.value.message and "Python-3.14.0rc1.tar.xz" in info.value.message
