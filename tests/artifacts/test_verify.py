"""`relman artifacts build` + `relman verify`: a full signed release, then tampering of every kind."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.artifacts.build import build_release_artifacts
from relman.artifacts.signing import GpgSigner
from relman.artifacts.verify import verify_release as _verify_release
from relman.cli.main import cli

from .conftest import fake_news, make_repo, sample_files

VERSION = "3.14.0rc1"


@pytest.fixture(scope="session")
def release(tmp_path_factory, gpg_home):
    """A signed rc1 release of the fixture project (archives, SBOMs, docs, sums, manifest)."""
    home, fingerprint = gpg_home
    root = tmp_path_factory.mktemp("release")
    repo = make_repo(root / "repo", sample_files(), symlinks={"Tools/readme": "../README.rst"})
    result = build_release_artifacts(repo, VERSION, root / "dist", profile="demo", generate=fake_news,
                                     signers=[GpgSigner(fingerprint, home)], validate_sboms=True)
    return result, home, fingerprint


@pytest.fixture
def copy(release, tmp_path):
    result, home, fingerprint = release
    folder = tmp_path / VERSION
    shutil.copytree(result.directory, folder)
    return folder, PinnedHome(home, fingerprint)


class PinnedHome(type(Path())):
    """The keyring folder, carrying the fingerprint the tests pin (what a user passes)."""

    def __new__(cls, home, fingerprint):
        self = super().__new__(cls, home)
        self.fingerprint = fingerprint
        return self


def verify_release(location, *, gnupghome=None, **kwargs):
    """The library call with the test key pinned, as `relman verify --fingerprint` does."""
    pins = [gnupghome.fingerprint] if isinstance(gnupghome, PinnedHome) else []
    return _verify_release(location, gnupghome=gnupghome, fingerprints=pins, **kwargs)


def test_build_produces_every_file_of_the_manifest(release):
    result, _, fingerprint = release
    names = sorted(p.name for p in result.directory.iterdir())
    assert names == sorted([
        "Python-3.14.0rc1.tgz", "Python-3.14.0rc1.tgz.asc", "Python-3.14.0rc1.tgz.spdx.json",
        "Python-3.14.0rc1.tar.xz", "Python-3.14.0rc1.tar.xz.asc", "Python-3.14.0rc1.tar.xz.spdx.json",
        "python-3.14.0rc1-docs-html.zip", "python-3.14.0rc1-docs-html.zip.asc",
        "python-3.14.0rc1-docs-html.tar.bz2", "python-3.14.0rc1-docs-html.tar.bz2.asc",
        "python-3.14.0rc1-docs-text.tar.bz2", "python-3.14.0rc1-docs-text.tar.bz2.asc",
        "SHA256SUMS", "3.14.0rc1.manifest.json", "3.14.0rc1.manifest.json.asc"])
    manifest = json.loads((result.directory / "3.14.0rc1.manifest.json").read_text())
    assert manifest["tag"] == "v3.14.0rc1" and len(manifest["commit"]) == 40
    assert manifest["signing"]["signers"][0]["fingerprint"] == fingerprint
    tgz = next(f for f in manifest["files"] if f["name"] == "Python-3.14.0rc1.tgz")
    assert tgz["platform"] == "source" and tgz["producer"] == "source"
    assert {s["kind"] for s in tgz["sidecars"]} == {"gpg", "sbom"}
    assert manifest["built"]["source"]["xz"]["preset"] == 6


def test_verify_passes_on_an_untouched_release(copy):
    folder, home = copy
    report = verify_release(folder, gnupghome=home)
    assert report.ok, report.problems
    assert any("file hashes match" in c for c in report.checked)
    assert any("good signature" in c for c in report.checked)


KINDS = ["Python-3.14.0rc1.tgz", "Python-3.14.0rc1.tar.xz", "Python-3.14.0rc1.tgz.spdx.json",
         "Python-3.14.0rc1.tar.xz.asc", "python-3.14.0rc1-docs-html.zip", "SHA256SUMS",
         "3.14.0rc1.manifest.json", "3.14.0rc1.manifest.json.asc"]


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("where", [0.0, 0.5, 0.99, 1.0])
def test_verify_catches_a_flipped_byte(copy, name, where):
    folder, home = copy
    path = folder / name
    data = bytearray(path.read_bytes())
    index = min(len(data) - 1, int(len(data) * where))
    data[index] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_release(folder, gnupghome=home)
    assert not report.ok
    assert any(p.file.startswith(name) or name in p.message for p in report.problems), report.problems


def test_verify_catches_missing_file_wrong_size_and_bad_signature(copy, tmp_path, gpg_home):
    folder, home = copy
    (folder / "python-3.14.0rc1-docs-text.tar.bz2").unlink()
    with open(folder / "Python-3.14.0rc1.tgz.spdx.json", "ab") as handle:
        handle.write(b" ")
    # a signature that is valid, but for another file
    other = tmp_path / "other"
    other.write_bytes(b"something else")
    GpgSigner(gpg_home[1], home).sign(other)
    shutil.copy(tmp_path / "other.asc", folder / "Python-3.14.0rc1.tar.xz.asc")
    report = verify_release(folder, gnupghome=home)
    problems = {(p.file, p.message.split(",")[0]) for p in report.problems}
    assert ("python-3.14.0rc1-docs-text.tar.bz2", "missing") in problems
    assert any(f == "Python-3.14.0rc1.tgz.spdx.json" and "size is" in m for f, m in problems)
    assert any(f == "Python-3.14.0rc1.tar.xz.asc" and "BAD signature" in m for f, m in problems)


def test_verify_detects_a_tampered_sbom_even_with_matching_manifest(copy):
    """An SBOM whose file hash no longer matches the archive is reported as such."""
    folder, home = copy
    path = folder / "Python-3.14.0rc1.tar.xz.spdx.json"
    doc = json.loads(path.read_text())
    entry = next(f for f in doc["files"] if f["fileName"] == "Lib/os.py")
    entry["checksums"][-1]["checksumValue"] = "0" * 64
    path.write_text(json.dumps(doc))
    report = verify_release(folder, gnupghome=home)
    assert any("Lib/os.py: SHA-256" in p.message for p in report.problems)


def test_unsigned_manifest_fails_unless_allowed(copy):
    folder, home = copy
    (folder / "3.14.0rc1.manifest.json.asc").unlink()
    assert any("not signed" in p.message for p in verify_release(folder, gnupghome=home).problems)
    assert verify_release(folder, gnupghome=home, allow_unsigned=True).ok


@pytest.fixture
def served(copy):
    folder, home = copy
    handler = functools.partial(_QuietHandler, directory=str(folder.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{VERSION}/", folder, home
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_verify_over_http(served):
    url, folder, home = served
    assert verify_release(url, gnupghome=home).ok
    assert verify_release(url + "3.14.0rc1.manifest.json", gnupghome=home).ok
    data = bytearray((folder / "Python-3.14.0rc1.tar.xz").read_bytes())
    data[100] ^= 0xFF
    (folder / "Python-3.14.0rc1.tar.xz").write_bytes(bytes(data))
    (folder / "SHA256SUMS").unlink()
    report = verify_release(url, gnupghome=home)
    files = {p.file for p in report.problems}
    assert {"Python-3.14.0rc1.tar.xz", "SHA256SUMS"} <= files


def test_cli_verify_exit_codes(copy):
    folder, home = copy
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(folder), "--gnupghome", str(home), "--fingerprint", home.fingerprint,
                             "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    (folder / "Python-3.14.0rc1.tgz").write_bytes(b"")
    bad = runner.invoke(cli, ["verify", str(folder), "--gnupghome", str(home), "--fingerprint", home.fingerprint])
    assert bad.exit_code == 1
    assert "FAIL  Python-3.14.0rc1.tgz: size is 0 bytes" in bad.output
    missing = runner.invoke(cli, ["verify", str(folder / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_cli_artifacts_build_json(tmp_path):
    repo = make_repo(tmp_path / "repo", sample_files(news=False))
    runner = CliRunner()
    result = runner.invoke(cli, ["artifacts", "build", "3.14.0b2", "--repo", str(repo), "-o", str(tmp_path / "d"),
                                 "--profile", "demo", "--reproducible", "--json"])
    assert result.exit_code == 2, result.output          # no tag v3.14.0b2
    assert "does not exist" in result.output
    import subprocess
    subprocess.run(["git", "tag", "v3.14.0b2"], cwd=repo, check=True)
    result = runner.invoke(cli, ["artifacts", "build", "3.14.0b2", "--repo", str(repo), "-o", str(tmp_path / "d"),
                                 "--profile", "demo", "--reproducible", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["docs"]["skipped"] is True and doc["unsigned"] is True
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted([
        "Python-3.14.0b2.tgz", "Python-3.14.0b2.tgz.spdx.json", "Python-3.14.0b2.tar.xz",
        "Python-3.14.0b2.tar.xz.spdx.json", "SHA256SUMS", "3.14.0b2.manifest.json"])
    assert verify_release(tmp_path / "d", allow_unsigned=True).ok
