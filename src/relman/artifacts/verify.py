"""`relman verify`: check a downloaded release, from a folder or a base URL.

It starts from the release manifest (`<version>.manifest.json`) and checks, reporting every
problem rather than stopping at the first:

1. the manifest's own signature, against trust the user chose: GPG keys they pinned
   (`--key FILE` or `--fingerprint`), a Sigstore identity and issuer they named (Sigstore
   bundles verified cryptographically, offline, by the `sigstore` library); never a key or
   identity that the manifest names. A signature that cannot be checked is "unverified" and
   fails the verification; an unsigned manifest is a problem unless `allow_unsigned`;
2. every file and sidecar the manifest lists: present, size, SHA-256;
3. each artifact's signatures, the same way;
4. SHA256SUMS: every line matches the file it names;
5. each SBOM: the project package's checksum is the archive's, and every file entry's SHA-256
   matches the archive's contents (and the archive holds no file the SBOM does not list).

A URL is downloaded into a temporary folder first (the manifest is found in the folder's
index page unless the URL names it), so both paths share one set of checks.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from ..errors import CheckFailed, RelmanError, UsageError
from .archive import read_archive_members
from .checksums import parse_sha256sums, sha256_file
from .manifest import GPG, SBOM, SIDECAR_SUFFIXES, SIGSTORE
from .release_manifest import all_listed, load_release_manifest
from .signing import UNVERIFIED, SigstorePolicy, gpg_verify, import_pinned_keys, sigstore_verify

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Problem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class VerifyReport:
    source: str
    manifest: str | None = None
    version: str | None = None
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    unverified: list[Problem] = field(default_factory=list)   # signatures that could not be checked

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unverified

    def fail(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "source": self.source, "manifest": self.manifest, "version": self.version,
                "checked": self.checked, "problems": [{"file": p.file, "message": p.message} for p in self.problems],
                "unverified": [{"file": p.file, "message": p.message} for p in self.unverified],
                "unlisted": self.unlisted}


@dataclass(frozen=True)
class Trust:
    """What signatures are checked against: chosen by the user, never read from the release."""

    gnupghome: Path | None = None
    fingerprints: tuple[str, ...] = ()
    sigstore: SigstorePolicy = SigstorePolicy(None, None)

    @classmethod
    def pinned(cls, *, key_files: Iterable[Path] = (), gnupghome: Path | None = None,
               fingerprints: Iterable[str] = (), identity: str | None = None, issuer: str | None = None,
               trusted_root: Path | None = None, staging: bool = False, scratch: Path | None = None) -> Trust:
        """`key_files` are imported into `scratch` (a fresh keyring holding only them)."""
        pins = [f.replace(" ", "").upper() for f in fingerprints]
        key_files = list(key_files)
        if key_files:
            if scratch is None:
                raise UsageError("pinned key files need a scratch folder for their keyring")
            pins += import_pinned_keys(key_files, scratch)
            gnupghome = scratch
        return cls(gnupghome, tuple(pins), SigstorePolicy(identity, issuer, trusted_root, staging))


def _find_manifest(folder: Path) -> Path:
    found = sorted(folder.glob("*" + MANIFEST_SUFFIX))
    if not found:
        raise UsageError(f"no release manifest (*{MANIFEST_SUFFIX}) in {folder}",
                         hint="point at the folder holding the release files, or at the manifest itself")
    if len(found) > 1:
        raise UsageError(f"{len(found)} release manifests in {folder}: " + ", ".join(p.name for p in found),
                         hint="pass the manifest you mean: relman verify FOLDER/3.14.0.manifest.json")
    return found[0]


def verify_release(location: str | Path, *, trust: Trust | None = None, allow_unsigned: bool = False,
                   timeout: float = 60.0, gnupghome: Path | None = None,
                   fingerprints: Iterable[str] = ()) -> VerifyReport:
    """Verify a release folder, a manifest file, or an http(s) URL of either.

    `gnupghome` and `fingerprints` are a shorthand for `trust=Trust.pinned(...)` (GPG only)."""
    trust = trust or Trust.pinned(gnupghome=gnupghome, fingerprints=fingerprints)
    text = str(location)
    if re.match(r"https?://", text):
        with tempfile.TemporaryDirectory(prefix="relman-verify-") as tmp:
            manifest = download_release(text, Path(tmp), timeout=timeout)
            report = verify_folder(manifest, trust=trust, allow_unsigned=allow_unsigned)
            report.source = text
            return report
    path = Path(location)
    if not path.exists():
        raise UsageError(f"{path} does not exist", hint="give a release folder, a manifest, or a URL")
    manifest = path if path.is_file() else _find_manifest(path)
    return verify_folder(manifest, trust=trust, allow_unsigned=allow_unsigned)


def verify_folder(manifest_path: Path, *, trust: Trust | None = None, allow_unsigned: bool = False) -> VerifyReport:
    trust = trust or Trust()
    folder = manifest_path.parent
    report = VerifyReport(str(folder), manifest_path.name)
    try:
        document = load_release_manifest(manifest_path.read_bytes(), where=manifest_path.name)
    except CheckFailed as error:
        document = None
        report.fail(manifest_path.name, error.message)
    if document is not None:
        report.version = document.get("version")

    # 1. the manifest's signature
    present = [kind for kind in (GPG, SIGSTORE) if (folder / (manifest_path.name + SIDECAR_SUFFIXES[kind])).is_file()]
    for kind in present:
        _check_signature(report, manifest_path, folder / (manifest_path.name + SIDECAR_SUFFIXES[kind]), kind, trust)
    if not present:
        if allow_unsigned:
            report.checked.append(f"{manifest_path.name}: unsigned (allowed)")
        else:
            report.fail(manifest_path.name, "the release manifest is not signed (no .asc or .sigstore next to it)")
    if document is None:
        return report

    # 2. every listed file: present, size, digest
    actual: dict[str, str] = {}
    for name, size, digest in all_listed(document):
        path = folder / name
        if not path.is_file():
            report.fail(name, "missing")
            continue
        got, got_size = sha256_file(path)
        actual[name] = got
        if got_size != size:
            report.fail(name, f"size is {got_size} bytes, the manifest says {size}")
        if got != digest.lower():
            report.fail(name, f"SHA-256 is {got}, the manifest says {digest}")
        if got_size == size and got == digest.lower():
            report.checked.append(f"{name}: size and SHA-256")

    for entry in document["files"]:
        name = entry["name"]
        path = folder / name
        for side in entry.get("sidecars", []):
            side_path = folder / side["name"]
            if not (path.is_file() and side_path.is_file()):
                continue
            kind = side.get("kind")
            # 3. signatures of the artifacts
            if kind in (GPG, SIGSTORE):
                _check_signature(report, path, side_path, kind, trust)
            # 5. SBOMs against the archive contents
            elif kind == SBOM:
                _check_sbom(report, path, side_path, actual.get(name))
        # 4. SHA256SUMS
        if entry.get("key") == "sha256sums" and path.is_file():
            _check_sums(report, folder, path)

    listed = {name for name, _, _ in all_listed(document)} | {manifest_path.name}
    listed |= {manifest_path.name + s for s in SIDECAR_SUFFIXES.values()}
    report.unlisted = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listed)
    return report


def _check_signature(report: VerifyReport, path: Path, sig: Path, kind: str, trust: Trust) -> None:
    if kind == GPG:
        result = gpg_verify(path, sig, gnupghome=trust.gnupghome, fingerprints=trust.fingerprints)
    else:
        result = sigstore_verify(path, sig, trust.sigstore)
    if result.ok:
        report.checked.append(f"{sig.name}: {result.message}")
    elif result.status == UNVERIFIED:
        report.unverified.append(Problem(sig.name, f"unverified: {result.message}"))
    else:
        report.fail(sig.name, result.message)


def _check_sums(report: VerifyReport, folder: Path, sums: Path) -> None:
    try:
        listed = parse_sha256sums(sums.read_text(encoding="utf-8", errors="replace"), where=sums.name)
    except CheckFailed as error:
        report.fail(sums.name, error.message + (f" ({error.where})" if error.where else ""))
        return
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            report.fail(sums.name, f"lists {name}, which is missing")
            continue
        got = sha256_file(path)[0]
        if got != digest:
            report.fail(sums.name, f"{name}: SHA256SUMS says {digest}, the file has {got}")
    report.checked.append(f"{sums.name}: {len(listed)} lines")


def _check_sbom(report: VerifyReport, archive: Path, sbom_path: Path, archive_digest: str | None) -> None:
    try:
        document = json.loads(sbom_path.read_bytes())
        packages = document["packages"]
        files = document.get("files", [])
    except (ValueError, KeyError, TypeError) as exc:
        report.fail(sbom_path.name, f"not an SPDX JSON document: {exc}")
        return
    project = [p for p in packages if p.get("packageFileName") == archive.name]
    if not project:
        report.fail(sbom_path.name, f"no package describes {archive.name}")
    else:
        listed = {c.get("algorithm"): c.get("checksumValue") for c in project[0].get("checksums", [])}
        digest = archive_digest or sha256_file(archive)[0]
        if listed.get("SHA256") != digest:
            report.fail(sbom_path.name, f"the package checksum {listed.get('SHA256')} is not {archive.name}'s {digest}")
    try:
        members = read_archive_members(archive)
    except RelmanError as error:
        report.fail(archive.name, error.message)
        return
    seen = set()
    for entry in files:
        name = entry.get("fileName")
        sha = {c.get("algorithm"): c.get("checksumValue") for c in entry.get("checksums", [])}.get("SHA256")
        member = members.get(name)
        seen.add(name)
        if member is None:
            report.fail(sbom_path.name, f"lists {name}, which is not in {archive.name}")
        elif member.sha256 != sha:
            report.fail(sbom_path.name, f"{name}: SHA-256 {sha} does not match the archive's {member.sha256}")
    extra = sorted(set(members) - seen)
    if extra:
        report.fail(sbom_path.name, f"{len(extra)} file(s) of {archive.name} are not in the SBOM: "
                                    + ", ".join(extra[:5]))
    if not extra and all(members.get(e.get("fileName")) for e in files):
        report.checked.append(f"{sbom_path.name}: {len(files)} file hashes match {archive.name}")


# ---- downloading ---------------------------------------------------------------------------

def download_release(url: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download the manifest (found via the folder index unless the URL names it), its
    signatures and every file it lists into `dest`; returns the manifest's path. Files that
    do not download are simply absent, so the checks report them as missing."""
    import httpx

    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        if url.endswith(MANIFEST_SUFFIX):
            manifest_url = url
        else:
            base = url if url.endswith("/") else url + "/"
            index = _get(client, base)
            if index is None:
                raise UsageError(f"cannot read {base}", hint="check the URL, or give the manifest's URL")
            pattern = r'href="([^"/?#]+' + re.escape(MANIFEST_SUFFIX) + r')"'
            names = sorted(set(re.findall(pattern, index.decode(errors="replace"))))
            if len(names) != 1:
                raise UsageError(f"found {len(names)} release manifests at {base}",
                                 hint="give the manifest's URL: …/3.14.0.manifest.json")
            manifest_url = urljoin(base, names[0])
        base = manifest_url.rsplit("/", 1)[0] + "/"
        manifest_name = manifest_url.rsplit("/", 1)[1]
        data = _get(client, manifest_url)
        if data is None:
            raise UsageError(f"cannot download {manifest_url}")
        (dest / manifest_name).write_bytes(data)
        document = load_release_manifest(data, where=manifest_url)
        names = [manifest_name + s for s in SIDECAR_SUFFIXES.values()] + [n for n, _, _ in all_listed(document)]
        for name in names:
            _download(client, urljoin(base, name), dest / name)
    return dest / manifest_name


def _get(client, url: str) -> bytes | None:
    import httpx
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach {url}: {exc}") from None
    return response.content if response.status_code == 200 else None


def _download(client, url: str, path: Path) -> None:
    import httpx
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                return
            with open(path, "wb") as out:
                for piece in response.iter_bytes():
                    out.write(piece)
    except httpx.HTTPError:
        if path.exists():
            path.unlink()


__all__ = ["verify_release", "verify_folder", "download_release", "VerifyReport", "Problem", "Trust"]
