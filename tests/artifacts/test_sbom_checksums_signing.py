"""SBOMs (validated by spdx-tools), SHA256SUMS (checked by sha256sum -c), and signatures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from conftest import require_tool
from relman.artifacts.archive import build_source_archives
from relman.artifacts.build import write_sboms
from relman.artifacts.checksums import parse_sha256sums, sha256_file, write_sha256sums
from relman.artifacts.manifest import expected_files
from relman.artifacts.sbom import build_source_sbom, sbom_for_archive, validate_sbom, verification_code
from relman.artifacts.signing import (GpgSigner, SigstoreSigner, gpg_verify,
                                      require_signing, signers_from_config)
from relman.errors import CheckFailed, ConfigError

from .conftest import EXPAT_COPYING, fake_news, make_repo, sample_files


@pytest.fixture
def built(sample_repo, tmp_path):
    return build_source_archives(sample_repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)


def test_sbom_is_valid_spdx_and_describes_the_archive(built, tmp_path):
    specs = expected_files("demo", "3.14.0rc1", producer="source")
    written = write_sboms(built, tmp_path / "out", profile="demo", specs=specs, validate=True)
    assert [w.name for w in written] == ["Python-3.14.0rc1.tgz.spdx.json", "Python-3.14.0rc1.tar.xz.spdx.json"]
    doc = json.loads(written[1].path.read_bytes())
    assert validate_sbom(written[1].path) == []
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["creationInfo"]["created"] == "2026-10-07T12:00:00Z"   # the tag's commit time
    project = next(p for p in doc["packages"] if p["name"] == "Sample")
    assert project["packageFileName"] == "Python-3.14.0rc1.tar.xz"
    assert project["checksums"] == [{"algorithm": "SHA256", "checksumValue": built.files[1].sha256}]
    assert {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
            "referenceLocator": "pkg:generic/sample@3.14.0rc1"} in project["externalRefs"]
    # the partial SBOM's package is kept, and the project depends on it
    assert any(p["name"] == "expat" for p in doc["packages"])
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert (project["SPDXID"], "DEPENDS_ON", "SPDXRef-PACKAGE-expat") in rels
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", project["SPDXID"]) in rels
    assert ("SPDXRef-PACKAGE-expat", "CONTAINS", "SPDXRef-FILE-Modules-expat-COPYING") in rels
    # every regular file of the archive, with its SHA-256
    files = {f["fileName"]: f for f in doc["files"]}
    assert set(files) == {m.path for m in built.members}
    member = {m.path: m for m in built.members}["Lib/os.py"]
    assert {"algorithm": "SHA256", "checksumValue": member.sha256} in files["Lib/os.py"]["checksums"]
    # the verification code is over the SHA-1s of the files the project contains
    contained = [files[f]["checksums"][0]["checksumValue"] for f in files if f != "Modules/expat/COPYING"]
    assert project["packageVerificationCode"]["packageVerificationCodeValue"] == verification_code(contained)
    # deterministic: the same SBOM from the archive on disk, byte for byte
    again = sbom_for_archive(built.files[1].path, profile="demo", version="3.14.0rc1",
                             created_epoch=built.source_date_epoch)
    assert again == doc


def test_spdx_tools_rejects_a_broken_document(built):
    doc = build_source_sbom(profile="cpython", version="3.14.0rc1", artifact=built.files[0],
                            members=built.members, created_epoch=built.source_date_epoch)
    assert validate_sbom(doc) == []
    cpe = next(p for p in doc["packages"] if p["name"] == "CPython")["externalRefs"][0]["referenceLocator"]
    assert cpe == "cpe:2.3:a:python:python:3.14.0rc1:*:*:*:*:*:*:*"
    broken = json.loads(json.dumps(doc))
    broken["packages"][0]["downloadLocation"] = "not a url"
    del broken["dataLicense"]
    assert validate_sbom(broken)


def test_partial_sbom_must_match_the_archive(tmp_path):
    files = sample_files()
    files["Modules/expat/COPYING"] = EXPAT_COPYING + "edited after regen-sbom\n"
    repo = make_repo(tmp_path / "r", files)
    build = build_source_archives(repo, "3.14.0rc1", tmp_path / "out", profile="demo", generate=fake_news)
    with pytest.raises(CheckFailed, match="Modules/expat/COPYING: SHA-256 in Misc/sbom.spdx.json"):
        write_sboms(build, tmp_path / "out", profile="demo",
                    specs=expected_files("demo", "3.14.0rc1", producer="source"))


def test_sha256sums_pass_coreutils_check(built, tmp_path):
    sha256sum = require_tool("sha256sum")
    out = tmp_path / "out"
    path = write_sha256sums(out / "SHA256SUMS", {f.name: f.sha256 for f in built.files})
    proc = subprocess.run([sha256sum, "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": OK") == 2
    assert parse_sha256sums(path.read_text()) == {f.name: f.sha256 for f in built.files}
    data = bytearray(built.files[0].path.read_bytes())
    data[len(data) // 2] ^= 1
    built.files[0].path.write_bytes(bytes(data))
    proc = subprocess.run([sha256sum, "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 1 and "FAILED" in proc.stdout
    with pytest.raises(CheckFailed, match="SHA256SUMS:2"):
        parse_sha256sums(path.read_text().splitlines()[0] + "\ngarbage line\n")


# ---- GPG ----------------------------------------------------------------------------------------

def test_gpg_round_trip(gpg_home, tmp_path):
    home, fingerprint = gpg_home
    target = tmp_path / "Python-3.14.0.tgz"
    target.write_bytes(b"archive bytes")
    signer = GpgSigner("rm@example.org", home)
    sig = signer.sign(target)
    assert sig.name == "Python-3.14.0.tgz.asc"
    assert sig.read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    assert signer.describe() == {"kind": "gpg", "suffix": ".asc", "fingerprint": fingerprint}
    good = gpg_verify(target, sig, gnupghome=home, fingerprints=[fingerprint])
    assert good.ok and good.signer == fingerprint
    assert not gpg_verify(target, sig, gnupghome=home, fingerprints=["0" * 40]).ok
    target.write_bytes(b"archive bytes!")
    bad = gpg_verify(target, sig, gnupghome=home, fingerprints=[fingerprint])
    assert not bad.ok and "BAD signature" in bad.message
    empty_home = tmp_path / "empty-gnupg"
    empty_home.mkdir(mode=0o700)
    target.write_bytes(b"archive bytes")
    unknown = gpg_verify(target, sig, gnupghome=empty_home)
    assert not unknown.ok and unknown.status == "unverified" and "not in the keyring" in unknown.message
    unpinned = gpg_verify(target, sig, gnupghome=home)
    assert not unpinned.ok and unpinned.status == "unverified" and "no key is pinned" in unpinned.message
    subprocess.run(["gpgconf", "--homedir", str(empty_home), "--kill", "gpg-agent"], capture_output=True)


def test_gpg_signing_with_an_unknown_key_fails_clearly(gpg_home, tmp_path):
    home, _ = gpg_home
    target = tmp_path / "f"
    target.write_bytes(b"x")
    with pytest.raises(CheckFailed, match="could not sign"):
        GpgSigner("nobody@example.org", home).sign(target)


# ---- Sigstore (offline: command construction) ----------------------------------------------------

def test_sigstore_sign_command(tmp_path):
    signer = SigstoreSigner("hugo@example.org", "https://github.com/login/oauth", python="/usr/bin/python3")
    target = tmp_path / "Python-3.15.0.tar.xz"
    assert signer.sign_command(target) == [
        "/usr/bin/python3", "-m", "sigstore", "sign", "--oidc-disable-ambient-providers", "--overwrite",
        "--bundle", f"{target}.sigstore", str(target)]
    assert "--staging" in SigstoreSigner("a", "b", staging=True).sign_command(target)


def test_sigstore_without_token_refuses(monkeypatch, tmp_path):
    monkeypatch.delenv("SIGSTORE_IDENTITY_TOKEN", raising=False)
    signer = SigstoreSigner("a@example.org", "https://accounts.google.com", python=sys.executable)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    with pytest.raises(ConfigError, match="SIGSTORE_IDENTITY_TOKEN"):
        signer.sign(tmp_path / "x")


def test_no_signer_refuses_to_publish_unless_allowed():
    with pytest.raises(ConfigError, match="refusing to publish unsigned"):
        require_signing([], allow_unsigned=False)
    assert require_signing([], allow_unsigned=True) is False
    signers = signers_from_config({"gpg_key": "rm@example.org", "sigstore_identity": "rm@example.org",
                                   "sigstore_issuer": "https://github.com/login/oauth"})
    assert [s.kind for s in signers] == ["gpg", "sigstore"]
    assert require_signing(signers) is True
    with pytest.raises(ConfigError, match="both"):
        signers_from_config({"sigstore_identity": "x"})


def test_sha256_file_streams(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"a" * (3 << 20))
    assert sha256_file(path) == (hashlib.sha256(b"a" * (3 << 20)).hexdigest(), 3 << 20)
