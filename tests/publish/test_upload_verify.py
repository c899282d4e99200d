"""Local upload (staged, atomic, other releases untouched), the user-side verification, CDN purge."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from relman.demo.standins import PurgeRecorder, SiteServer
from relman.errors import CheckFailed, ExternalServiceError, UsageError
from relman.publish.files import PublishedFile, public_urls
from relman.publish.purge import purge_urls
from relman.publish.upload import STAGING, LocalTree, unpack_flat
from relman.publish.userverify import verify_downloads


def published(folder: Path, names: dict[str, bytes]) -> list[PublishedFile]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, data in names.items():
        (folder / name).write_bytes(data)
        files.append(PublishedFile(name, len(data), hashlib.sha256(data).hexdigest(), folder / name))
    return files


def test_local_upload_stages_then_moves_and_leaves_other_releases_alone(tmp_path):
    root = tmp_path / "ftp"
    (root / "3.14.0").mkdir(parents=True)
    (root / "3.14.0" / "Python-3.14.0rc0.tgz").write_bytes(b"an earlier pre-release")
    files = published(tmp_path / "src", {"Python-3.14.0rc1.tgz": b"x" * 5000, "SHA256SUMS": b"sums\n"})
    target = LocalTree(root)
    report = target.upload("3.14.0", files)
    assert sorted(report.uploaded) == ["Python-3.14.0rc1.tgz", "SHA256SUMS"]
    assert (root / "3.14.0" / "Python-3.14.0rc0.tgz").read_bytes() == b"an earlier pre-release"
    assert (root / "3.14.0" / "SHA256SUMS").stat().st_mode & 0o777 == 0o644
    assert not any((root / STAGING).iterdir())
    assert target.missing("3.14.0", files) == []
    assert target.upload("3.14.0", files).uploaded == []          # a re-run uploads nothing
    (root / "3.14.0" / "SHA256SUMS").write_bytes(b"SUMS\n")        # changed on the server: uploaded again
    assert target.upload("3.14.0", files).uploaded == ["SHA256SUMS"]


def test_a_file_changed_after_the_build_is_not_uploaded(tmp_path):
    files = published(tmp_path / "src", {"a.tgz": b"built bytes"})
    (tmp_path / "src" / "a.tgz").write_bytes(b"other bytes")
    with pytest.raises(CheckFailed) as error:
        LocalTree(tmp_path / "ftp").upload("3.14.0", files)
    assert "does not match its manifest entry" in str(error.value)
    assert not (tmp_path / "ftp" / "3.14.0" / "a.tgz").exists()
    with pytest.raises(UsageError):
        LocalTree(tmp_path / "ftp").upload("../escape", files)


def test_docs_archive_unpacks_flat_and_refuses_escapes(tmp_path):
    import zipfile

    archive = tmp_path / "docs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("python-3.14.0rc1-docs-html/index.html", "<h1>docs</h1>")
        zf.writestr("python-3.14.0rc1-docs-html/library/os.html", "os")
    target = LocalTree(tmp_path / "ftp", docs_root=tmp_path / "docs")
    where = Path(target.unpack_docs(archive, "release/3.14.0rc1"))
    assert (where / "index.html").read_text() == "<h1>docs</h1>" and (where / "library" / "os.html").is_file()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../outside.html", "x")
    with pytest.raises(CheckFailed):
        unpack_flat(evil, tmp_path / "out")
    assert not (tmp_path / "outside.html").exists()


@pytest.fixture
def served(tmp_path):
    server = SiteServer(tmp_path / "site", tmp_path / "ftp", {}).start()
    yield server
    server.stop()


def test_user_side_verification_downloads_and_compares_every_byte(tmp_path, served):
    files = published(tmp_path / "src", {"a.tgz": os.urandom(200_000), "a.tgz.asc": b"sig", "b.zip": b"zip"})
    LocalTree(tmp_path / "ftp").upload("3.14.0", files)
    base = served.url + "/ftp/python/3.14.0/"
    report = verify_downloads(public_urls(files, base))
    assert report.ok and len(report.checked) == 3
    # the server's copy is changed in one byte (same size) and another is missing
    data = bytearray((tmp_path / "ftp" / "3.14.0" / "a.tgz").read_bytes())
    data[1000] ^= 1
    (tmp_path / "ftp" / "3.14.0" / "a.tgz").write_bytes(bytes(data))
    (tmp_path / "ftp" / "3.14.0" / "b.zip").unlink()
    report = verify_downloads(public_urls(files, base))
    problems = dict(report.problems)
    assert "SHA-256" in problems[base + "a.tgz"] and problems[base + "b.zip"] == "HTTP 404"
    assert report.checked == [base + "a.tgz.asc"]


def test_purge_sends_exactly_the_urls_once_each(tmp_path):
    cdn = PurgeRecorder(tmp_path / "purges.jsonl").start()
    try:
        urls = ["https://www.example.org/ftp/python/3.14.0/a.tgz", "https://www.example.org/downloads/",
                "https://www.example.org/ftp/python/3.14.0/a.tgz"]
        done = purge_urls(cdn.url, urls)
        assert cdn.purged() == ["/ftp/python/3.14.0/a.tgz", "/downloads/"]
        assert done == [cdn.url + "/ftp/python/3.14.0/a.tgz", cdn.url + "/downloads/"]
    finally:
        cdn.stop()
    with pytest.raises(ExternalServiceError) as error:       # the endpoint is gone now
        purge_urls(cdn.url, urls, attempts=2, sleep=lambda s: None)
    assert "PURGE" in str(error.value) and "0 URL(s) purged" in str(error.value)
