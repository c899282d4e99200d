"""Platform hand-offs: telling the platform builders (Windows, macOS, …) what to build, and
checking what they deliver.

For each platform the artifact manifest says someone else builds, `plan_handoffs` gives the
hand-off (tag, commit, expected files, drop location, deadline); `handoff_email` writes it as
an email. `check_drop` looks at the drop location and says, per platform, which files are
there, which are missing and which are wrong (empty, still growing, an unexpected name for
this release, a digest that differs from the platform's SHA256SUMS, a signature that does not
verify). Security releases have no platform builds: they wait for source only.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from ..artifacts.checksums import sha256_file
from ..artifacts.manifest import ArtifactSpec, expected_files, get_profile
from ..version import Version

PLATFORM_NAMES = {"windows": "Windows", "macos": "macOS", "android": "Android", "ios": "iOS"}
SUMS_NAME = "SHA256SUMS.{platform}"     # optional: "<sha256>  <name>" lines a platform may deliver


def platform_title(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform.title())


@dataclass(frozen=True)
class Handoff:
    platform: str
    version: str
    tag: str
    commit: str
    files: tuple[str, ...]          # the artifacts expected
    optional: tuple[str, ...]       # sidecars (signatures, SBOMs) welcome but not waited for
    drop: str                       # where to deliver them
    deadline: str                   # ISO 8601, UTC

    def as_dict(self) -> dict:
        return {"platform": self.platform, "version": self.version, "tag": self.tag, "commit": self.commit,
                "files": list(self.files), "optional": list(self.optional), "drop": self.drop,
                "deadline": self.deadline}


def handoff_platforms(profile: str, version: Version | str, *, security: bool) -> dict[str, list[ArtifactSpec]]:
    """Platform → the artifacts it hands off, from the artifact manifest. Security releases: none."""
    if security:
        return {}
    out: dict[str, list[ArtifactSpec]] = {}
    for spec in expected_files(get_profile(profile), version, security):
        if spec.platform:
            out.setdefault(spec.platform, []).append(spec)
    return out


def plan_handoffs(profile: str, version: Version, *, security: bool, tag: str, commit: str, drop: str,
                  deadline: str) -> list[Handoff]:
    return [Handoff(platform, version.text, tag, commit, tuple(s.name for s in specs),
                    tuple(side for s in specs for side in s.sidecars), f"{drop.rstrip('/')}/{version.text}/",
                    deadline)
            for platform, specs in handoff_platforms(profile, version, security=security).items()]


def handoff_email(handoff: Handoff, *, sender: str, to: str | None, project: str = "Python") -> EmailMessage:
    message = EmailMessage()
    title = platform_title(handoff.platform)
    message["Subject"] = f"[release] {project} {handoff.version}: please build {title} ({handoff.tag})"
    message["From"] = sender
    message["To"] = to or f"{handoff.platform}-release-builders@localhost"
    lines = [
        f"Hello {title} release builders,",
        "",
        f"{project} {handoff.version} is tagged and ready for the {title} build.",
        "",
        f"  tag:      {handoff.tag}",
        f"  commit:   {handoff.commit}",
        f"  deadline: {handoff.deadline}",
        f"  deliver:  {handoff.drop}",
        "",
        "Files expected (exactly these names):",
        *(f"  {name}" for name in handoff.files),
    ]
    if handoff.optional:
        lines += ["", "With their signatures and SBOMs when you produce them:", *(f"  {n}" for n in handoff.optional)]
    lines += ["", f"Optionally add {SUMS_NAME.format(platform=handoff.platform)} ('<sha256>  <name>' lines);",
              "relman checks every digest it lists.", "", "Thank you!"]
    message.set_content("\n".join(lines) + "\n")
    return message


class Drop(Protocol):
    """Where platform builders deliver files: a local folder (`LocalDrop`) or a folder on an
    SFTP server (`relman.publish.sftp.SftpDrop`)."""

    folder: Any

    def listing(self) -> dict[str, int]:
        """name → size of the files delivered so far."""

    def fetch(self, name: str, dest: Path) -> None: ...


class LocalDrop:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def listing(self) -> dict[str, int]:
        if not self.folder.is_dir():
            return {}
        return {p.name: p.stat().st_size for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")}

    def fetch(self, name: str, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(self.folder / name, tmp)
        tmp.replace(dest)


@dataclass
class PlatformStatus:
    platform: str
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.wrong


def check_drop(platforms: Mapping[str, Sequence[ArtifactSpec]], listing: Mapping[str, int],
               previous: Mapping[str, int] | None = None) -> dict[str, PlatformStatus]:
    """Per platform: present, missing, wrong. A file whose size changed since `previous` is
    still arriving (missing); an empty file is wrong; a file that no expected name or sidecar
    explains but carries a platform's naming for another release is wrong for that platform."""
    statuses: dict[str, PlatformStatus] = {}
    known = {SUMS_NAME.format(platform=p) for p in platforms}
    for platform, specs in platforms.items():
        status = PlatformStatus(platform)
        for spec in specs:
            known.add(spec.name)
            known.update(spec.sidecars)
            size = listing.get(spec.name)
            if size is None or (previous is not None and previous.get(spec.name) != size):
                status.missing.append(spec.name)
            elif size == 0:
                status.wrong.append((spec.name, "empty file"))
            else:
                status.present.append(spec.name)
        statuses[platform] = status
    for name in sorted(set(listing) - known):
        owner = _owner(platforms, name)
        if owner is not None:
            statuses[owner].wrong.append((name, "not a file of this release (wrong version or name?)"))
    return statuses


def _owner(platforms: Mapping[str, Sequence[ArtifactSpec]], name: str) -> str | None:
    """The platform whose file names `name` resembles (same suffix after the version)."""
    for platform, specs in platforms.items():
        for spec in specs:
            tail = re.sub(r"^[^-]*-[^-]*", "", spec.name) or spec.name
            if tail and name.endswith(tail):
                return platform
    return None


def status_line(statuses: Mapping[str, PlatformStatus], source_ready: bool = True) -> str:
    marks = [f"source {'✅' if source_ready else '❌'}"]
    marks += [f"{platform_title(p)} {'✅' if s.complete else ('⚠️' if s.wrong else '❌')}" for p, s in statuses.items()]
    return "Waiting for files: " + " ".join(marks)


def verify_arrivals(platforms: Mapping[str, Sequence[ArtifactSpec]], folder: Path, *, gnupghome: Path | None = None,
                    fingerprints: Iterable[str] = ()) -> tuple[dict[str, dict], list[str]]:
    """Check the fetched files: digests against a delivered SHA256SUMS.<platform>, GPG
    signatures when delivered (and a keyring is given). Returns ({name: {size, sha256}}, problems)."""
    from ..artifacts.signing import gpg_verify

    files: dict[str, dict] = {}
    problems: list[str] = []
    for platform, specs in platforms.items():
        sums = _read_sums(folder / SUMS_NAME.format(platform=platform))
        for spec in specs:
            for name in (spec.name, *spec.sidecars):
                path = folder / name
                if not path.is_file():
                    continue
                digest, size = sha256_file(path)
                files[name] = {"size": size, "sha256": digest, "platform": platform}
                if name in sums and sums[name] != digest:
                    problems.append(f"{name}: SHA-256 {digest} differs from {SUMS_NAME.format(platform=platform)} "
                                    f"({sums[name]})")
            asc = folder / (spec.name + ".asc")
            if asc.is_file() and gnupghome is not None:
                check = gpg_verify(folder / spec.name, asc, gnupghome=gnupghome, fingerprints=list(fingerprints))
                if not check.ok:
                    problems.append(f"{asc.name}: {check.message}")
    return files, problems


def _read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


__all__ = [
    "SUMS_NAME",
    "Drop",
    "Handoff",
    "LocalDrop",
    "PlatformStatus",
    "check_drop",
    "handoff_email",
    "handoff_platforms",
    "plan_handoffs",
    "platform_title",
    "status_line",
    "verify_arrivals",
]
