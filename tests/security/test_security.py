"""Security checks: secrets never written anywhere, write endpoints that refuse without the key
(compared in constant time), loopback by default, no way out of /ftp/.

Other security promises are tested where they live: archives never hold a symlink escaping the
tree (tests/artifacts/test_archive.py), SFTP refuses unknown and changed host keys
(tests/publish/test_sftp.py), verify catches a tampered file, signature or manifest
(tests/corpus/verify.toml, tests/artifacts/test_verify.py).
"""

from __future__ import annotations

import hmac
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from relman.cli.main import cli
from relman.site.app import Site, create_app

SECRET = "relman-secret-scan-" + "7f3e9a1c" * 3


@pytest.fixture(scope="module")
def demo_with_known_secret(tmp_path_factory):
    """A whole rehearsal whose downloads-site API key (sent on every registration request) is
    SECRET; the key is otherwise random, so this is the only way to know what to look for."""
    import relman.demo.standins as standins

    root = tmp_path_factory.mktemp("secret-demo") / "demo"
    original = standins.secrets.token_hex
    standins.secrets.token_hex = lambda n=None: SECRET  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(cli, ["demo", "--dir", str(root), "--json"], catch_exceptions=False)
    finally:
        standins.secrets.token_hex = original  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    return root, result.output


def test_no_file_a_demo_writes_holds_the_secret(demo_with_known_secret):
    root, output = demo_with_known_secret
    assert SECRET not in output
    scanned, leaks = 0, []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        if ".git/objects/" in path.as_posix():   # compressed objects: checked through git below
            continue
        scanned += 1
        if SECRET.encode() in path.read_bytes():
            leaks.append(str(path.relative_to(root)))
    assert scanned > 50, f"only {scanned} files scanned: is the demo folder where we think?"
    assert leaks == [], f"the secret is written in: {leaks}"
    for repo in (root / "upstream.git", root / "fork.git", root / "cpython"):
        log = subprocess.run(["git", "log", "--all", "-p", "--format=%B"], cwd=repo, capture_output=True, text=True)
        assert SECRET not in log.stdout


def test_no_page_of_the_web_app_shows_the_secret(demo_with_known_secret):
    root, _ = demo_with_known_secret
    site = Site(data_dir=root / "site", state_dir=root / "state", api_keys={"rm": SECRET},
                options={"ftp_root": str(root / "downloads"), "cycle": str(root / "release-cycle.json")})
    with TestClient(create_app(site)) as client:
        pages = ["/", "/runs/", "/runs/1", "/runs/1/report", "/downloads/", "/downloads/feed.atom",
                 "/api/v1/downloads/release/", "/api/v1/downloads/release_file/?limit=0"]
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (page, response.status_code)
            assert SECRET not in response.text, page
        runs = client.get("/runs/1")
        for link in sorted(set(part.split('"')[0] for part in runs.text.split('href="/runs/1/')[1:]))[:40]:
            assert SECRET not in client.get("/runs/1/" + link).text, link


def test_write_endpoints_refuse_missing_and_wrong_keys_and_compare_in_constant_time(tmp_path, monkeypatch):
    site = Site(data_dir=tmp_path / "site", api_keys={"rm": "right-key-123"})
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    body = {"name": "Source release", "slug": "source"}
    with TestClient(create_app(site)) as client:
        for headers in ({}, {"Authorization": "ApiKey rm:wrong-key-12"}, {"Authorization": "ApiKey nobody:right-key-123"},
                        {"Authorization": "Bearer right-key-123"}, {"Authorization": "ApiKey rm:"}):
            assert client.post("/api/v1/downloads/os/", json=body, headers=headers).status_code == 401, headers
        assert client.get("/api/v1/downloads/os/").json()["meta"]["total_count"] == 0
        assert any(a == b"wrong-key-12" and b == b"right-key-123" for a, b in compared), \
            "a wrong key must be compared with hmac.compare_digest"
        created = client.post("/api/v1/downloads/os/", json=body, headers={"Authorization": "ApiKey rm:right-key-123"})
        assert created.status_code == 201


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:   # 0A: LISTEN
                found.add(address)
    return found


def test_relman_serve_binds_loopback_unless_told_otherwise(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "relman.cli.main", "serve", "--data", str(tmp_path / "site"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _listening_addresses(port):
            time.sleep(0.1)
        addresses = _listening_addresses(port)
        assert addresses == {"0100007F"}, f"listening on {addresses} (0100007F is 127.0.0.1)"
    finally:
        proc.terminate()
        proc.wait(10)


def test_ftp_never_follows_a_symlink_out_of_the_tree(tmp_path):
    ftp = tmp_path / "ftp"
    (ftp / "3.14.0").mkdir(parents=True)
    (ftp / "3.14.0" / "Python-3.14.0.tgz").write_bytes(b"the real file")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "key.txt").write_text("a private file")
    os.symlink(outside / "key.txt", ftp / "3.14.0" / "leak.txt")
    os.symlink(outside, ftp / "3.14.0" / "leakdir")
    os.symlink("../../private/key.txt", ftp / "3.14.0" / "relative-leak.txt")
    site = Site(data_dir=tmp_path / "site", options={"ftp_root": str(ftp)})
    with TestClient(create_app(site)) as client:
        assert client.get("/ftp/python/3.14.0/Python-3.14.0.tgz").content == b"the real file"
        for path in ("leak.txt", "leakdir/key.txt", "relative-leak.txt", "leakdir/"):
            response = client.get("/ftp/python/3.14.0/" + path)
            assert response.status_code == 404, path
            assert "a private file" not in response.text
        listing = client.get("/ftp/python/3.14.0/").text
        assert "leak" not in listing
