"""Signatures: one `Signer` interface, GPG (detached `.asc`) and Sigstore (`.sigstore` bundles),
and their verification against trust the user chose.

- GPG works offline: `GpgSigner` signs with a key from a keyring (`gnupghome` picks a
  throwaway or dedicated one); `gpg_verify` checks a detached signature and accepts it only
  from a pinned key (fingerprints the user gives, or the keys in files they give) — never from
  a key that the signed material names.
- Sigstore signing needs the internet (an OIDC token, Fulcio, Rekor): `SigstoreSigner` runs the
  `sigstore` CLI; the token comes from `SIGSTORE_IDENTITY_TOKEN` in the environment, never from
  the command line. Verification (`sigstore_verify`) is offline and cryptographic, with the
  `sigstore` library: the certificate chains to the trust root (Sigstore's public-good root that
  the library ships, or a `trusted_root.json` the user gives), its SCT and the transparency-log
  entry's inclusion promise and checkpoint are signed by that root's keys, the certificate names
  the expected identity and OIDC issuer, and the signature is over this file. What cannot be
  checked (no identity given, no trust root, the library missing) is "unverified", never good.
- `require_signing(signers, allow_unsigned=...)` is the gate the pipeline calls before
  publishing: no signer and no explicit permission for an unsigned rehearsal means no publish.
"""

from __future__ import annotations

import importlib.util
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

    def check(self) -> str:
        """Prove, before anything irreversible, that this signer can sign; returns what was
        checked. Raises ConfigError (a setting or variable is missing) or CheckFailed."""
        ...


VERIFIED, FAILED, UNVERIFIED = "verified", "failed", "unverified"


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    message: str
    signer: str | None = None          # GPG fingerprint or Sigstore identity
    status: str = ""                   # verified | failed (it does not verify) | unverified (cannot be checked)

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", VERIFIED if self.ok else FAILED)

    @classmethod
    def unverified(cls, message: str) -> SignatureCheck:
        return cls(False, message, status=UNVERIFIED)


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

    def check(self) -> str:
        """The key is in the keyring and signs: a trial signature of a scratch file (with the
        passphrase from its variable) must verify."""
        import tempfile

        if self.passphrase_env and self.passphrase_env not in os.environ:
            raise ConfigError(f"the GPG passphrase variable {self.passphrase_env} is not set",
                              hint=f"export {self.passphrase_env}=… (signing.gpg_passphrase_env names it)")
        fingerprint = self.fingerprint()
        with tempfile.TemporaryDirectory(prefix="relman-sign-check-") as scratch:
            probe = Path(scratch) / "signing-check.txt"
            probe.write_text("relman checks that this key can sign\n")
            signature = self.sign(probe)
            result = gpg_verify(probe, signature, gnupghome=self.gnupghome, fingerprints=[fingerprint], gpg=self.gpg)
        if not result.ok:
            raise CheckFailed(f"GPG key {self.key} made a signature that does not verify: {result.message}")
        return f"GPG key {fingerprint} signs" + (f" (passphrase from ${self.passphrase_env})"
                                                   if self.passphrase_env else "")


def gpg_verify(path: Path, signature: Path, *, gnupghome: Path | None = None,
               fingerprints: Iterable[str] | None = None, gpg: str | None = None) -> SignatureCheck:
    """Check a detached signature made by one of the pinned keys `fingerprints` (full
    fingerprints of the primary key or the signing subkey). Without a pinned key the signature
    cannot be trusted, however well it verifies: the result is unverified."""
    allowed = {f.replace(" ", "").upper() for f in fingerprints or ()}
    malformed = armor_problems(signature)
    if malformed:
        return SignatureCheck(False, malformed[0])
    argv = _gpg_base(gpg, gnupghome) + ["--status-fd", "1", "--verify", str(signature), str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    status = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] ")]
    valid = next((s for s in status if s and s[0] == "VALIDSIG"), None)
    if proc.returncode == 0 and valid:
        fingerprint = valid[1]
        primary = valid[-1] if len(valid) >= 10 else fingerprint
        if not allowed:
            return SignatureCheck.unverified(f"signed by {fingerprint}, but no key is pinned to check it against "
                                             "(pass --key FILE with the release manager's public key, or "
                                             "--fingerprint)")
        if fingerprint.upper() not in allowed and primary.upper() not in allowed:
            return SignatureCheck(False, f"signed by {primary}, which is not a pinned key "
                                         f"(pinned: {', '.join(sorted(allowed))})", fingerprint)
        return SignatureCheck(True, f"good signature by pinned key {primary}", primary)
    if any(s and s[0] == "BADSIG" for s in status):
        return SignatureCheck(False, "BAD signature: the file or the signature was changed")
    if any(s and s[0] == "NO_PUBKEY" for s in status):
        key = next(s[1] for s in status if s and s[0] == "NO_PUBKEY")
        if allowed:
            return SignatureCheck(False, f"signed by key {key}, which is not a pinned key "
                                         f"(pinned: {', '.join(sorted(allowed))})")
        return SignatureCheck.unverified(f"cannot check: public key {key} is not in the keyring "
                                         "(pass --key FILE with the release manager's public key)")
    if any(s and s[0] == "NODATA" for s in status):
        return SignatureCheck(False, "not an OpenPGP signature (corrupt or empty .asc)")
    detail = (proc.stderr.strip().splitlines() or ["gpg exit " + str(proc.returncode)])[-1]
    return SignatureCheck(False, f"signature does not verify: {detail}")


def import_pinned_keys(key_files: Iterable[Path], gnupghome: Path, *, gpg: str | None = None) -> list[str]:
    """Import public key files into `gnupghome` (a fresh folder) and return their fingerprints:
    the keys `relman verify --key FILE` trusts, and no others."""
    gnupghome.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key_file in key_files:
        if not Path(key_file).is_file():
            raise UsageError(f"no such key file: {key_file}", hint="give the release manager's public key (.asc)")
        proc = subprocess.run(_gpg_base(gpg, gnupghome) + ["--import", str(key_file)], capture_output=True,
                              text=True, timeout=60)
        if proc.returncode != 0:
            raise UsageError(f"cannot import {key_file}: {proc.stderr.strip()[-300:]}", where=str(key_file),
                             hint="give an OpenPGP public key file (gpg --armor --export KEY)")
    proc = subprocess.run(_gpg_base(gpg, gnupghome) + ["--with-colons", "--fingerprint", "--list-keys"],
                          capture_output=True, text=True, timeout=60)
    fingerprints = [line.split(":")[9] for line in proc.stdout.splitlines() if line.startswith("fpr:")]
    if not fingerprints:
        raise UsageError("the key file(s) hold no OpenPGP public key", hint="gpg --armor --export KEY > key.asc")
    return fingerprints


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

    def _require(self) -> None:
        if importlib.util.find_spec("sigstore") is None and self.python == sys.executable:
            raise ConfigError("Sigstore signing is configured but the sigstore package is not installed",
                              hint="pip install sigstore (a dependency of relman), or configure GPG for an offline run")

    def check(self) -> str:
        """The library is installed, identity and issuer are set, and the token variable holds a
        token (signing itself needs the internet, so it is not tried here)."""
        self._require()
        if not os.environ.get(self.token_env):
            raise ConfigError(f"no Sigstore identity token: {self.token_env} is not set",
                              hint=f"get a token for {self.identity} from {self.issuer} and export it")
        return f"Sigstore signing as {self.identity} ({self.issuer}), token in ${self.token_env}"

    def sign(self, path: Path) -> Path:
        self._require()
        if not os.environ.get(self.token_env):
            raise ConfigError(f"no Sigstore identity token: {self.token_env} is not set",
                              hint="get a token for the configured identity and export it")
        proc = subprocess.run(self.sign_command(path), capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise CheckFailed(f"sigstore could not sign {path.name}: {proc.stderr.strip()[-500:]}", where=str(path))
        bundle = Path(str(path) + self.suffix)
        check = sigstore_verify(path, bundle, SigstorePolicy(self.identity, self.issuer, staging=self.staging))
        if not check.ok:
            raise CheckFailed(f"the Sigstore bundle for {path.name} does not verify: {check.message}")
        return bundle

    def describe(self) -> dict[str, Any]:
        return {"kind": SIGSTORE, "suffix": self.suffix, "identity": self.identity, "issuer": self.issuer}


@dataclass(frozen=True)
class SigstorePolicy:
    """What a Sigstore bundle must prove: a certificate for `identity` issued after an OIDC login
    at `issuer`, chaining to `trusted_root` (a trusted_root.json; default: Sigstore's public-good
    root shipped with the `sigstore` library, or its staging root)."""

    identity: str | None
    issuer: str | None
    trusted_root: Path | None = None
    staging: bool = False


def _load_verifier(policy: SigstorePolicy) -> tuple[Any, Any] | SignatureCheck:
    try:
        from sigstore.models import ClientTrustConfig, TrustedRoot
        from sigstore.verify import Verifier
        from sigstore.verify.policy import Identity
    except ImportError:
        return SignatureCheck.unverified("cannot check: the sigstore library is not installed "
                                         "(pip install sigstore)")
    if not (policy.identity and policy.issuer):
        return SignatureCheck.unverified("cannot check: no Sigstore identity and issuer to check against "
                                         "(pass --identity and --issuer, or set [signing] sigstore_identity "
                                         "and sigstore_issuer)")
    try:
        if policy.trusted_root is not None:
            root = TrustedRoot.from_file(str(policy.trusted_root))
        else:
            config = ClientTrustConfig.staging(offline=True) if policy.staging else \
                ClientTrustConfig.production(offline=True)
            root = config.trusted_root
        verifier = Verifier(trusted_root=root)
    except Exception as exc:   # the library raises many kinds for an unreadable root  # noqa: BLE001
        where = policy.trusted_root or ("the staging" if policy.staging else "the public-good") + " trust root"
        return SignatureCheck.unverified(f"cannot check: no usable Sigstore trust root ({where}: {exc})")
    return verifier, Identity(identity=policy.identity, issuer=policy.issuer)


def _certificate_identity(bundle: Any) -> str:
    from cryptography import x509

    try:
        san = bundle.signing_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.RFC822Name) + san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        names = []
    return ", ".join(names) or "no identity"


def sigstore_verify(path: Path, bundle_path: Path, policy: SigstorePolicy) -> SignatureCheck:
    """Verify a Sigstore bundle for `path`, offline, with the `sigstore` library (see SigstorePolicy)."""
    loaded = _load_verifier(policy)
    if isinstance(loaded, SignatureCheck):
        return loaded
    verifier, identity = loaded
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        bundle = Bundle.from_json(bundle_path.read_bytes())
    except (SigstoreError, ValueError) as exc:
        return SignatureCheck(False, f"not a valid Sigstore bundle: {exc}")
    try:
        verifier.verify_artifact(path.read_bytes(), bundle, identity)
    except SigstoreError as exc:
        text = str(exc)
        if "certificate chain" in text or "SCT" in text:
            message = ("the certificate was not issued by the trusted Sigstore CA (forged, or from another "
                       f"Sigstore instance): {text}")
        elif "digest mismatch" in text or "inconsistent" in text:
            message = f"the bundle does not sign {path.name}: it is for other content ({text})"
        elif "Signature is invalid for input" in text:
            message = (f"the bundle does not sign {path.name}: its signature does not verify with the "
                       f"certificate's key (forged or altered)")
        elif "SANs do not match" in text or "OIDCIssuer" in text:
            message = (f"signed by {_certificate_identity(bundle)}, not by the expected identity "
                       f"{policy.identity} ({policy.issuer})")
        elif "log entry" in text or "inclusion" in text or "checkpoint" in text:
            message = f"the transparency log entry does not verify against the trust root: {text}"
        else:
            message = f"Sigstore verification failed: {text}"
        return SignatureCheck(False, message)
    return SignatureCheck(True, f"Sigstore bundle verified: signed by {policy.identity} ({policy.issuer})",
                          policy.identity)


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


def check_signers(config: Mapping[str, Any] | None, *, allow_unsigned: bool = False) -> list[str]:
    """Preflight: every configured signer can sign (see `Signer.check`); no signer at all is
    refused unless unsigned releases are allowed. Returns what was checked."""
    signers = signers_from_config(config)
    if not require_signing(signers, allow_unsigned=allow_unsigned):
        return ["no signer: unsigned (allow_unsigned = true)"]
    return [signer.check() for signer in signers]


# The `[signing]` keys a build job needs, as `relman artifacts build` options.
_SIGNING_OPTIONS = {"gpg_key": "--gpg-key", "gnupghome": "--gnupghome", "gpg_passphrase_env": "--gpg-passphrase-env",
                    "sigstore_identity": "--sigstore-identity", "sigstore_issuer": "--sigstore-issuer"}


def signing_arguments(config: Mapping[str, Any] | None) -> list[str]:
    """The `relman artifacts build` options that carry a `[signing]` table to a build job (local
    or remote): every signer setting, never a secret (the passphrase travels by variable name)."""
    config = config or {}
    argv: list[str] = []
    for key, option in _SIGNING_OPTIONS.items():
        if config.get(key):
            argv += [option, str(config[key])]
    if config.get("sigstore_staging"):
        argv.append("--sigstore-staging")
    return argv


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
