"""SFTP upload against a real OpenSSH sshd on 127.0.0.1 with temporary host and user keys."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from relman.demo.sshd import Sshd, keygen
from relman.errors import CheckFailed, TransientError
from relman.publish.files import PublishedFile
from relman.publish.sftp import SftpTarget
from relman.publish.upload import STAGING
from tests.conftest import require_tool


@pytest.fixture
def sshd(tmp_path):
    server = Sshd(require_tool("sshd", "/usr/sbin/sshd"), tmp_path / "sshd").start()
    yield server
    server.stop()


def target(sshd: Sshd, remote: Path, **kw) -> SftpTarget:
    options = {"port": sshd.port, "user": sshd.user, "known_hosts": str(sshd.known_hosts), "key": str(sshd.user_key),
               "root": str(remote), "parallel": 8, **kw}
    return SftpTarget("127.0.0.1", **options)


def release_files(folder: Path, count: int, size: int) -> list[PublishedFile]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        data = os.urandom(size)
        (folder / f"file-{i:03}.bin").write_bytes(data)
        files.append(PublishedFile(f"file-{i:03}.bin", size, hashlib.sha256(data).hexdigest(), folder / f"file-{i:03}.bin"))
    return files


def test_upload_stages_moves_and_sets_modes(tmp_path, sshd):
    remote = tmp_path / "remote"
    (remote / "3.14.0").mkdir(parents=True)
    (remote / "3.14.0" / "Python-3.14.0rc0.tgz").write_bytes(b"earlier pre-release")
    files = release_files(tmp_path / "local", 12, 30_000)
    sftp = target(sshd, remote)
    report = sftp.upload("3.14.0", files)
    assert sorted(report.uploaded) == [f.name for f in files]
    for f in files:
        path = remote / "3.14.0" / f.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert (remote / "3.14.0" / "Python-3.14.0rc0.tgz").read_bytes() == b"earlier pre-release"
    assert list((remote / STAGING / "3.14.0").iterdir()) == []
    assert sftp.missing("3.14.0", files) == []
    (remote / "3.14.0" / files[0].name).write_bytes(b"x" * 30_000)      # same size, other bytes
    assert [f.name for f in sftp.missing("3.14.0", files)] == [files[0].name]
    assert sftp.upload("3.14.0", files).uploaded == [files[0].name]


def test_a_changed_host_key_is_refused(tmp_path, sshd):
    other = keygen(tmp_path / "impostor_key")
    sshd.known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n")
    files = release_files(tmp_path / "local", 1, 100)
    with pytest.raises(CheckFailed) as error:
        target(sshd, tmp_path / "remote").upload("3.14.0", files)
    assert "refusing to connect" in str(error.value)
    assert not (tmp_path / "remote").exists()
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(CheckFailed):      # an unknown host is refused too
        target(sshd, tmp_path / "remote", known_hosts=str(empty)).upload("3.14.0", files)


def test_a_dropped_connection_is_resumed(tmp_path, sshd):
    remote = tmp_path / "remote"
    files = release_files(tmp_path / "local", 40, 200_000)
    sftp = target(sshd, remote, parallel=4)
    dropped = []

    def progress(done, total, name):
        if done == 10 and not dropped:
            dropped.append(sshd.drop_connections())

    with pytest.raises(TransientError) as error:
        sftp.upload("3.14.0", files, progress=progress)
    assert dropped and dropped[0] >= 1 and "run again" in str(error.value)
    assert not (remote / "3.14.0").exists() or not any((remote / "3.14.0").iterdir())   # nothing half-published
    report = sftp.upload("3.14.0", files)
    assert len(sftp.resumed) >= 10                         # files staged whole were not sent again
    assert sorted(report.uploaded) == [f.name for f in files]
    for f in files:
        assert hashlib.sha256((remote / "3.14.0" / f.name).read_bytes()).hexdigest() == f.sha256


def test_a_tree_goes_as_one_stream_and_replaces_the_old_one(tmp_path, sshd):
    local = tmp_path / "docs"
    (local / "library").mkdir(parents=True)
    (local / "index.html").write_text("new")
    (local / "library" / "os.html").write_text("os")
    dest = tmp_path / "remote-docs" / "release" / "3.14.0rc1"
    dest.mkdir(parents=True)
    (dest / "stale.html").write_text("old")
    assert target(sshd, tmp_path / "remote").upload_tree(local, str(dest)) == 2
    assert (dest / "index.html").read_text() == "new" and (dest / "library" / "os.html").read_text() == "os"
    assert not (dest / "stale.html").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["3.14.0rc1"]


def test_platform_files_are_awaited_in_an_sftp_drop(tmp_path, sshd):
    import threading
    import time

    from relman.release.handoff import wait_for_platforms
    from tests.publish.test_handoff import MAC, WIN, V, context, deliver

    ctx, _ = context(tmp_path, timeout=30.0, publish={
        "drop_sftp": True, "sftp_host": "127.0.0.1", "sftp_port": sshd.port, "sftp_user": sshd.user,
        "sftp_known_hosts": str(sshd.known_hosts), "sftp_key": str(sshd.user_key),
        "drop_dir": str(tmp_path / "server-drop")})
    drop = tmp_path / "server-drop" / V
    deliver(drop, WIN, b"windows bytes", "windows")

    def late():
        time.sleep(0.5)
        deliver(drop, MAC, b"mac bytes", "macos")

    thread = threading.Thread(target=late)
    thread.start()
    out = wait_for_platforms(ctx)
    thread.join()
    assert (Path(out["dir"]) / MAC).read_bytes() == b"mac bytes" and set(out["files"]) == {WIN, MAC}
