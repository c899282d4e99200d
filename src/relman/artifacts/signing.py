"""Signatures: one `Signer` interface, GPG (detached `.asc`) and Sigstore (`.sigstore` bundles).

- GPG works offline: `GpgSigner` signs with a key from a keyring (`gnupghome` picks a
  throwaway or dedicated one); `gpg_verify` checks a detached signature and reports the
  signing key's fingerprint.
- Sigstore needs the internet (an OIDC token, Fulcio, Rekor). `SigstoreSigner` runs the
  `sigstore` package's CLI (the optional `relman[sigstore]` extra) with the identity policy
  from the configuration; the token comes from `SIGSTORE_IDENTITY_TOKEN` in the environment,
  never from the command line. Offline, `check_bundle_offline` checks what can be checked
  without the transparency log: the bundle parses and its message digest is the file's SHA-256.
- `require_signing(signers, allow_unsigned=...)` is the gate the pipeline calls before
  publishing: no signer and no explicit permission for an unsigned rehearsal means no publish.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import CheckFailed, ConfigError, UsageError
from .manifest import GPG, SIGSTORE, SIDECAR_SUFFIXES


class Signer(Protocol):
    kind: str                          # "gpg" | "sigstore": the manifest's sidecar kind

    @property
    def suffix(self) -> str: ...

    def sign(self, path: Path) -> Path:
        """Write the signature next to `path` and return its path."""
        ...

    def describe(self) -> dict[str, Any]:
        """What a verifier needs to know (recorded in the release manifest)."""
        ...


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    message: str
    signer: str | None = None          # GPG fingerprint or Sigstore identity


def _gpg_binary(gpg: str | None) -> str:
    found = shutil.which(gpg or "gpg")
    if not found:
        raise UsageError("gpg is not installed", hint="install it: apt-get install gnupg")
    return found


def _gpg_base(gpg: str | None, gnupghome: Path | None) -> list[str]:
    argv = [_gpg_binary(gpg), "--batch", "--no-tty", "--quiet"]
    if gnupghome:
        argv += ["--homedir", str(gnupghome)]
    return argv


@dataclass
class GpgSigner:
    """Detached ASCII-armoured signatures (`<file>.asc`) with `key` (id, fingerprint or e-mail)."""

    key: str
    gnupghome: Path | None = None
    passphrase_env: str | None = None   # the name of the environment variable holding the passphrase
    gpg: str | None = None
    kind: str = GPG

    @property
    def suffix(self) -> str:
        return SIDECAR_SUFFIXES[GPG]

    def sign_command(self, path: Path) -> list[str]:
        argv = _gpg_base(self.gpg, self.gnupghome) + ["--yes", "--local-user", self.key, "--armor",
                                                       "--detach-sign", "--output", str(path) + self.suffix]
        if self.passphrase_env:
            argv += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
        return argv + [str(path)]

    def sign(self, path: Path) -> Path:
        passphrase = None
        if self.passphrase_env:
            passphrase = os.environ.get(self.passphrase_env)
            if passphrase is None:
                raise ConfigError(f"the GPG passphrase variable {self.passphrase_env} is not set",
                                  hint=f"export {self.passphrase_env}=… before the run")
        proc = subprocess.run(self.sign_command(path), input=(passphrase or "").encode() if passphrase else None,
                              capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise CheckFailed(f"gpg could not sign {path.name}: {proc.stderr.decode(errors='replace').strip()}",
                              where=str(path), hint=f"check that key {self.key!r} is in the keyring "
                                                    "(gpg -K) and can sign")
        return Path(str(path) + self.suffix)

    def fingerprint(self) -> str:
        proc = subprocess.run(_gpg_base(self.gpg, self.gnupghome) + ["--with-colons", "--fingerprint",
                                                                      "--list-secret-keys", self.key],
                              capture_output=True, text=True, timeout=60)
        for line in proc.stdout.splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise ConfigError(f"no secret GPG key {self.key!r} in the keyring",
                          hint="import the release manager's key, or set gnupghome")

    def describe(self) -> dict[str, Any]:
        return {"kind": GPG, "suffix": self.suffix, "fingerprint": self.fingerprint()}


def gpg_verify(path: Path, signature: Path, *, gnupghome: Path | None = None,
               fingerprints: Iterable[str] | None = None, gpg: str | None = None) -> SignatureCheck:
    """Check a detached signature; with `fingerprints`, the signer must be one of them."""
    malformed = armor_problems(signature)
    if malformed:
        return SignatureCheck(False, malformed[0])
    argv = _gpg_base(gpg, gnupghome) + ["--status-fd", "1", "--verify", str(signature), str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    status = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] ")]
    valid = next((s for s in status if s and s[0] == "VALIDSIG"), None)
    if proc.returncode == 0 and valid:
        fingerprint = valid[1]
        allowed = {f.replace(" ", "").upper() for f in fingerprints or ()}
        if allowed and fingerprint.upper() not in allowed and (len(valid) < 10 or valid[-1].upper() not in allowed):
            return SignatureCheck(False, f"signed by {fingerprint}, which is not an expected key", fingerprint)
        return SignatureCheck(True, f"good signature by {fingerprint}", fingerprint)
    if any(s and s[0] == "BADSIG" for s in status):
        return SignatureCheck(False, "BAD signature: the file or the signature was changed")
    if any(s and s[0] == "NO_PUBKEY" for s in status):
        key = next(s[1] for s in status if s and s[0] == "NO_PUBKEY")
        return SignatureCheck(False, f"cannot check: public key {key} is not in the keyring "
                                     "(import the release manager's key, or pass --gnupghome)")
    if any(s and s[0] == "NODATA" for s in status):
        return SignatureCheck(False, "not an OpenPGP signature (corrupt or empty .asc)")
    detail = (proc.stderr.strip().splitlines() or ["gpg exit " + str(proc.returncode)])[-1]
    return SignatureCheck(False, f"signature does not verify: {detail}")


_ARMOR = re.compile(
    rb"-----BEGIN PGP SIGNATURE-----\n(?:[A-Za-z]+: [^\n]*\n)*\n(?:[A-Za-z0-9+/=]+\n)+"
    rb"(?:=[A-Za-z0-9+/]{4}\n)?-----END PGP SIGNATURE-----\n")


def armor_problems(signature: Path) -> list[str]:
    """A detached signature must be exactly one canonical ASCII-armoured block: gpg itself
    tolerates some changes to the armour (line breaks, trailing bytes), a verifier must not."""
    data = signature.read_bytes().replace(b"\r\n", b"\n")
    if not _ARMOR.fullmatch(data):
        return [f"{signature.name}: not one canonical ASCII-armoured PGP signature block"]
    return []


@dataclass
class SigstoreSigner:
    """Sigstore bundles through the `sigstore` CLI; identity and issuer come from the config."""

    identity: str                       # "hugo@example.org"
    issuer: str                         # "https://github.com/login/oauth"
    python: str = field(default_factory=lambda: sys.executable)
    token_env: str = "SIGSTORE_IDENTITY_TOKEN"
    staging: bool = False
    kind: str = SIGSTORE

    @property
    def suffix(self) -> str:
        return SIDECAR_SUFFIXES[SIGSTORE]

    def _base(self) -> list[str]:
        return [self.python, "-m", "sigstore"] + (["--staging"] if self.staging else [])

    def sign_command(self, path: Path) -> list[str]:
        return self._base() + ["sign", "--oidc-disable-ambient-providers", "--overwrite",
                               "--bundle", str(path) + self.suffix, str(path)]

    def verify_command(self, path: Path, *, offline: bool = False) -> list[str]:
        argv = self._base() + ["verify", "identity", "--bundle", str(path) + self.suffix,
                               "--cert-identity", self.identity, "--cert-oidc-issuer", self.issuer]
        if offline:
            argv.append("--offline")
        return argv + [str(path)]

    def _require(self) -> None:
        if importlib.util.find_spec("sigstore") is None and self.python == sys.executable:
            raise ConfigError("Sigstore signing is configured but the sigstore package is not installed",
                              hint="pip install 'relman[sigstore]', or configure GPG for an offline run")

    def sign(self, path: Path) -> Path:
        self._require()
        if not os.environ.get(self.token_env):
            raise ConfigError(f"no Sigstore identity token: {self.token_env} is not set",
                              hint="get a token for the configured identity and export it")
        proc = subprocess.run(self.sign_command(path), capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise CheckFailed(f"sigstore could not sign {path.name}: {proc.stderr.strip()[-500:]}", where=str(path))
        bundle = Path(str(path) + self.suffix)
        problems = check_bundle_offline(path, bundle)
        if problems:
            raise CheckFailed(f"the Sigstore bundle for {path.name} is not usable: {'; '.join(problems)}")
        return bundle

    def verify(self, path: Path, *, offline: bool = False) -> SignatureCheck:
        self._require()
        proc = subprocess.run(self.verify_command(path, offline=offline), capture_output=True, text=True,
                              timeout=300)
        if proc.returncode == 0:
            return SignatureCheck(True, f"Sigstore bundle verified for {self.identity}", self.identity)
        return SignatureCheck(False, f"Sigstore verification failed: {proc.stderr.strip()[-300:]}")

    def describe(self) -> dict[str, Any]:
        return {"kind": SIGSTORE, "suffix": self.suffix, "identity": self.identity, "issuer": self.issuer}


def check_bundle_offline(path: Path, bundle: Path) -> list[str]:
    """What can be checked without the internet: the bundle is a Sigstore bundle for this file."""
    try:
        data = json.loads(bundle.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"{bundle.name}: not a JSON Sigstore bundle ({exc})"]
    if not isinstance(data, dict) or "application/vnd.dev.sigstore.bundle" not in str(data.get("mediaType", "")):
        return [f"{bundle.name}: mediaType is not a Sigstore bundle"]
    problems = []
    material = data.get("verificationMaterial") or {}
    if not any(k in material for k in ("certificate", "x509CertificateChain", "publicKey")):
        problems.append(f"{bundle.name}: no certificate in verificationMaterial")
    if not material.get("tlogEntries"):
        problems.append(f"{bundle.name}: no transparency log entry")
    message = data.get("messageSignature")
    if message is None:
        if "dsseEnvelope" not in data:
            problems.append(f"{bundle.name}: neither messageSignature nor dsseEnvelope")
        return problems
    digest = (message.get("messageDigest") or {})
    if digest.get("algorithm") != "SHA2_256":
        problems.append(f"{bundle.name}: message digest algorithm {digest.get('algorithm')!r} is not SHA2_256")
        return problems
    try:
        listed = base64.b64decode(digest.get("digest", ""), validate=True).hex()
    except ValueError:
        return problems + [f"{bundle.name}: message digest is not base64"]
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if listed != actual:
        problems.append(f"{bundle.name}: signs SHA-256 {listed}, but {path.name} has {actual}")
    if not message.get("signature"):
        problems.append(f"{bundle.name}: empty signature")
    return problems


def signers_from_config(config: Mapping[str, Any] | None) -> list[Signer]:
    """Signers from a `[signing]` table: `gpg_key`, `gnupghome`, `gpg_passphrase_env`,
    `sigstore_identity`, `sigstore_issuer`, `sigstore_staging`."""
    config = config or {}
    signers: list[Signer] = []
    if config.get("gpg_key"):
        home = config.get("gnupghome")
        signers.append(GpgSigner(str(config["gpg_key"]), Path(home) if home else None,
                                 config.get("gpg_passphrase_env")))
    if config.get("sigstore_identity") or config.get("sigstore_issuer"):
        if not (config.get("sigstore_identity") and config.get("sigstore_issuer")):
            raise ConfigError("Sigstore needs both sigstore_identity and sigstore_issuer",
                              hint="for example sigstore_issuer = \"https://github.com/login/oauth\"")
        signers.append(SigstoreSigner(str(config["sigstore_identity"]), str(config["sigstore_issuer"]),
                                      staging=bool(config.get("sigstore_staging"))))
    return signers


def require_signing(signers: Sequence[Signer], *, allow_unsigned: bool = False) -> bool:
    """The publish gate: True when signers exist; False for an allowed unsigned rehearsal;
    ConfigError otherwise."""
    if signers:
        return True
    if allow_unsigned:
        return False
    raise ConfigError("no signer is configured: refusing to publish unsigned artifacts",
                      hint="configure signing (gpg_key, or sigstore_identity and sigstore_issuer), or set "
                           "allow_unsigned = true for a rehearsal that nobody will download")


def sign_files(paths: Iterable[Path], signers: Sequence[Signer]) -> list[Path]:
    """Sign each file with each signer; returns the signature files."""
    written = []
    for path in paths:
        for signer in signers:
            written.append(signer.sign(path))
    return written
