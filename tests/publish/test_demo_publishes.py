"""`relman demo --sftp --serve` publishes: uploaded over SFTP to a local OpenSSH sshd, registered
through the demo site's API, the CDN purges recorded, and `relman verify <site>/ftp/python/<version>/`
passes against the running site. (The default demo, publishing to a local tree, runs in tests/e2e.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from relman.engine.journal import Journal
from tests.conftest import require_tool

pytestmark = pytest.mark.slow


def test_demo_publishes_and_the_served_release_verifies(tmp_path):
    require_tool("sshd", "/usr/sbin/sshd")
    root = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "relman.cli.main", "demo", "--dir", str(root), "--json", "--serve",
                             "--sftp"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        text = ""
        summary = None
        assert proc.stdout is not None
        for line in proc.stdout:
            text += line
            try:
                summary = json.loads(text)
                break
            except ValueError:
                continue
        assert summary is not None, text + (proc.stderr.read() if proc.stderr and proc.poll() is not None else "")
        assert summary["status"] == "done", summary
        for step in ("publish.handoff", "publish.wait-platforms", "publish.upload", "publish.docs",
                     "publish.register", "publish.purge", "publish.verify"):
            assert {s["id"]: s["status"] for s in summary["steps"]}[step] == "done", step
        site = summary["site_url"]
        journal = Journal(Path(summary["state_db"]))
        upload = journal.steps(summary["run_id"])["publish.upload"].outputs
        journal.close()
        assert upload["target"] == "sftp" and len(upload["uploaded"]) == len(upload["files"]) >= 15
        folder = Path(summary["downloads_dir"]) / "3.14.0"
        assert (folder / "Python-3.14.0rc1.tar.xz").is_file() and (folder / "python-3.14.0rc1-amd64.exe").is_file()
        assert (Path(summary["site_dir"]) / "downloads.db").is_file()
        assert (root / "docs" / "release" / "3.14.0rc1" / "index.html").is_file()

        verify = subprocess.run([sys.executable, "-m", "relman.cli.main", "verify", f"{site}/ftp/python/3.14.0/",
                                 "--gnupghome", str(root / "gnupg"), "--fingerprint",
                                 (root / "gnupg" / "demo-key.fingerprint").read_text().strip()],
                                capture_output=True, text=True, timeout=300, check=False)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "all checks passed" in verify.stdout

        # what an anonymous reader of the API sees: the published release and its files
        releases = httpx.get(f"{site}/api/v1/downloads/release/", params={"name": "Python 3.14.0rc1"}).json()
        release = releases["objects"][0]
        assert release["is_published"] and release["pre_release"]
        files = httpx.get(f"{site}/api/v1/downloads/release_file/", params={"release": release["resource_uri"]}).json()
        by_name = {f["name"]: f for f in files["objects"]}
        assert set(by_name) == {"Gzipped source tarball", "XZ compressed source tarball",
                                "Windows installer (64-bit)", "macOS installer"}
        xz = by_name["XZ compressed source tarball"]
        assert xz["download_button"] and xz["gpg_signature_file"] == xz["url"] + ".asc"
        assert xz["sbom_spdx2_file"] == xz["url"] + ".spdx.json"
        assert "Stand-in" in by_name["macOS installer"]["description"]
        downloaded = httpx.get(xz["url"]).content
        assert len(downloaded) == xz["filesize"]
        page = httpx.get(f"{site}/downloads/release/{release['slug']}/").text
        assert "Windows installer (64-bit)" in page and xz["sha256_sum"] in page

        purged = [json.loads(line)["path"] for line in (root / "cdn" / "purges.jsonl").read_text().splitlines()]
        uploaded = sorted(p.name for p in folder.iterdir())
        assert sorted(p.rsplit("/", 1)[1] for p in purged if p.startswith("/ftp/python/3.14.0/") and
                      not p.endswith("/")) == uploaded
        assert f"/downloads/release/{release['slug']}/" in purged
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
