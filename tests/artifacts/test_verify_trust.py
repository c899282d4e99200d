"""`relman verify` trusts only what the user chose: Sigstore bundles checked cryptographically
(offline, with the sigstore library) against the identity and issuer given, GPG signatures
against pinned keys. Each attack below must fail with exit 1 and a precise message; what cannot
be checked fails closed as "unverified"."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_module, require_tool
from relman.artifacts.build import build_release_artifacts
from relman.artifacts.signing import GpgSigner, SigstorePolicy, sigstore_verify
from relman.cli.main import cli

from .conftest import fake_news, make_repo, sample_files

require_module("sigstore")
from sigstore_local import LocalSigstore  # noqa: E402  (needs the cryptography that sigstore brings)

VERSION = "3.14.0b2"
MANIFEST = f"{VERSION}.manifest.json"
IDENTITY, ISSUER = "rm@example.org", "https://github.com/login/oauth"


@dataclass
class LocalSigstoreSigner:
    """A `Signer` that signs with the local test Sigstore (what `sigstore sign` would produce)."""

    instance: LocalSigstore
    identity: str = IDENTITY
    issuer: str = ISSUER
    kind: str = "sigstore"

    @property
    def suffix(self) -> str:
        return ".sigstore"

    def sign(self, path: Path) -> Path:
        return self.instance.sign(path, identity=self.identity, issuer=self.issuer)

    def describe(self) -> dict:
        return {"kind": "sigstore", "suffix": ".sigstore", "identity": self.identity, "issuer": self.issuer}


@pytest.fixture(scope="module")
def sigstore_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigstore-release")
    instance = LocalSigstore()
    repo = make_repo(root / "repo", sample_files(news=False), tag=f"v{VERSION}")
    result = build_release_artifacts(repo, VERSION, root / "dist", profile="demo", generate=fake_news,
                                     signers=[LocalSigstoreSigner(instance)])
    trusted_root = instance.write_trusted_root(root / "trusted_root.json")
    return result.directory, instance, trusted_root


@pytest.fixture
def folder(sigstore_release, tmp_path):
    directory, instance, trusted_root = sigstore_release
    copy = tmp_path / VERSION
    shutil.copytree(directory, copy)
    return copy, instance, trusted_root


def verify(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", str(folder), *args])
    return result.exit_code, result.output


def trust_args(trusted_root: Path, identity: str = IDENTITY, issuer: str = ISSUER) -> list[str]:
    return ["--trust-root", str(trusted_root), "--identity", identity, "--issuer", issuer]


def test_a_real_bundle_verifies_against_the_chosen_identity(folder):
    path, _, trusted_root = folder
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 0, out
    assert f"{MANIFEST}.sigstore: Sigstore bundle verified: signed by {IDENTITY}" in out


def test_a_forged_bundle_fails(folder):
    """The reproduction from the issue: signature "Zm9yZ2Vk", any public key."""
    path, _, trusted_root = folder
    bundle = path / f"{MANIFEST}.sigstore"
    document = json.loads(bundle.read_text())
    document["messageSignature"]["signature"] = "Zm9yZ2Vk"
    bundle.write_text(json.dumps(document))
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1
    assert f"FAIL  {MANIFEST}.sigstore: the bundle does not sign {MANIFEST}: its signature does not verify" in out
    assert "all checks passed" not in out


def test_a_bundle_from_another_sigstore_instance_fails(folder):
    """Everything well-formed and self-consistent, but signed by a CA the user does not trust."""
    path, _, trusted_root = folder
    LocalSigstore(name="mallory").sign(path / MANIFEST)
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1
    assert "not issued by the trusted Sigstore CA" in out


def test_a_bundle_for_another_file_fails(folder):
    path, instance, trusted_root = folder
    # a genuine bundle by the trusted instance and identity, but for the source archive
    instance.sign(path / f"Python-{VERSION}.tgz", bundle=path / f"{MANIFEST}.sigstore")
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1
    assert f"the bundle does not sign {MANIFEST}" in out


def test_a_certificate_for_another_identity_fails(folder):
    path, instance, trusted_root = folder
    instance.sign(path / MANIFEST, identity="mallory@example.org", issuer=ISSUER)
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1
    assert f"signed by mallory@example.org, not by the expected identity {IDENTITY}" in out
    # and the right identity from the wrong OIDC issuer is refused too
    instance.sign(path / MANIFEST, identity=IDENTITY, issuer="https://evil.example.org")
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1 and f"not by the expected identity {IDENTITY} ({ISSUER})" in out


def test_the_identity_named_by_the_manifest_is_not_trusted(folder):
    """Without --identity the manifest's own signer entry is never used: unverified, exit 1."""
    path, _, trusted_root = folder
    code, out = verify(path, "--trust-root", str(trusted_root))
    assert code == 1
    assert "unverified: cannot check: no Sigstore identity and issuer" in out


def test_the_identity_can_come_from_the_project_configuration(folder, tmp_path):
    path, _, trusted_root = folder
    config = tmp_path / "relman.toml"
    config.write_text(f'[signing]\nsigstore_identity = "{IDENTITY}"\nsigstore_issuer = "{ISSUER}"\n'
                      f'sigstore_trust_root = "{trusted_root}"\n')
    code, out = verify(path, "--config", str(config))
    assert code == 0, out


def test_no_usable_trust_root_fails_closed(folder, tmp_path):
    path, _, _ = folder
    code, out = verify(path, *trust_args(tmp_path / "missing-root.json"))
    assert code == 1
    assert "unverified: cannot check: no usable Sigstore trust root" in out
    # Sigstore's public-good root (shipped with the library) does not trust the test CA: a failure
    code, out = verify(path, "--identity", IDENTITY, "--issuer", ISSUER)
    assert code == 1 and "not issued by the trusted Sigstore CA" in out


def test_without_the_sigstore_library_bundles_are_unverified(folder, monkeypatch):
    path, _, trusted_root = folder
    for name in [m for m in sys.modules if m == "sigstore" or m.startswith("sigstore.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sigstore", None)   # import sigstore → ImportError
    check = sigstore_verify(path / MANIFEST, path / f"{MANIFEST}.sigstore",
                            SigstorePolicy(IDENTITY, ISSUER, trusted_root))
    assert not check.ok and check.status == "unverified" and "not installed" in check.message
    code, out = verify(path, *trust_args(trusted_root))
    assert code == 1 and "unverified" in out and "all checks passed" not in out


# ---- GPG: pinned keys only ------------------------------------------------------------------------

def _export(home: Path, fingerprint: str, out: Path) -> Path:
    out.write_bytes(subprocess.run(["gpg", "--homedir", str(home), "--batch", "--armor", "--export", fingerprint],
                                   check=True, capture_output=True).stdout)
    return out


@pytest.fixture(scope="module")
def second_key(gpg_home):
    """Another key in the same keyring: valid signatures, but not the key the user pins."""
    home, _ = gpg_home
    base = ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet"]
    subprocess.run(base + ["--passphrase", "", "--quick-gen-key", "Mallory <mallory@example.org>", "ed25519",
                           "sign", "never"], check=True, capture_output=True)
    listing = subprocess.run(base + ["--with-colons", "--list-secret-keys", "mallory@example.org"],
                             check=True, capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


@pytest.fixture
def gpg_release(gpg_home, tmp_path):
    require_tool("gpg")
    home, fingerprint = gpg_home
    repo = make_repo(tmp_path / "repo", sample_files(news=False), tag=f"v{VERSION}")
    result = build_release_artifacts(repo, VERSION, tmp_path / "dist", profile="demo", generate=fake_news,
                                     signers=[GpgSigner(fingerprint, home)])
    return result.directory, home, fingerprint


def test_gpg_signature_by_an_unpinned_key_fails(gpg_release, second_key, tmp_path):
    folder, home, fingerprint = gpg_release
    pinned = _export(home, fingerprint, tmp_path / "rm.asc")
    code, out = verify(folder, "--key", str(pinned))
    assert code == 0, out
    assert f"good signature by pinned key {fingerprint}" in out
    # the manifest re-signed by another key of the same keyring, and the manifest claiming it
    manifest = folder / MANIFEST
    document = json.loads(manifest.read_text())
    document["signing"]["signers"] = [{"kind": "gpg", "suffix": ".asc", "fingerprint": second_key}]
    manifest.write_text(json.dumps(document, indent=2) + "\n")
    GpgSigner(second_key, home).sign(manifest)
    code, out = verify(folder, "--key", str(pinned))
    assert code == 1
    assert f"FAIL  {MANIFEST}.asc: signed by key" in out and "which is not a pinned key" in out
    # with the whole keyring and no pin, nothing is trusted because the manifest names it
    code, out = verify(folder, "--gnupghome", str(home))
    assert code == 1 and "no key is pinned" in out


def test_a_keys_file_with_several_keys_pins_each(gpg_release, second_key, tmp_path):
    folder, home, fingerprint = gpg_release
    keys = tmp_path / "keys.asc"
    keys.write_bytes(_export(home, fingerprint, tmp_path / "a.asc").read_bytes()
                     + _export(home, second_key, tmp_path / "b.asc").read_bytes())
    code, out = verify(folder, "--key", str(keys))
    assert code == 0, out


def test_a_key_file_that_is_not_a_key_is_a_usage_error(gpg_release, tmp_path):
    folder, _, _ = gpg_release
    junk = tmp_path / "junk.asc"
    junk.write_text(base64.b64encode(b"not a key").decode())
    code, out = verify(folder, "--key", str(junk))
    assert code == 2 and "junk.asc" in out
