"""What a release publishes: every file with its size and SHA-256, and what the downloads site
registers for it. File names, labels, OS and download buttons come from the artifact manifest.

Digests of built files come from the signed release manifest (not from the folder), so a file
changed after the build is caught by the user-side verification instead of being published as
the truth. Files handed off by platform builders carry the digests checked when they arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..artifacts.checksums import sha256_file
from ..artifacts.manifest import SIDECAR_SUFFIXES, ArtifactSpec, expected_files, file_slug, get_profile
from ..artifacts.release_manifest import all_listed, load_release_manifest, manifest_spec
from ..errors import CheckFailed
from ..version import Version
from .models import KIND_FIELDS, ReleaseFilePayload, ReleasePayload


@dataclass(frozen=True)
class PublishedFile:
    name: str
    size: int
    sha256: str
    source: Path            # where the bytes are on this machine


def folder_name(version: Version) -> str:
    """The release's folder under the ftp root: `3.14.0` for 3.14.0rc1 too (python.org's layout)."""
    return version.normalized


def publication(profile: str, version: Version, artifacts_dir: Path, platform_files: Mapping[str, Mapping] | None = None,
                platform_dir: Path | None = None) -> list[PublishedFile]:
    """Every file to publish: what the signed release manifest lists (with its digests), the
    manifest and its signatures, and the verified platform hand-offs."""
    spec = manifest_spec(profile, version)
    manifest_path = artifacts_dir / spec.name
    if not manifest_path.is_file():
        raise CheckFailed(f"no release manifest {spec.name} in {artifacts_dir}", hint="build the release first")
    document = load_release_manifest(manifest_path.read_bytes(), where=str(manifest_path))
    files: dict[str, PublishedFile] = {}
    for name, size, digest in all_listed(document):
        files[name] = PublishedFile(name, size, digest, artifacts_dir / name)
    for name in [spec.name, *(spec.name + suffix for suffix in SIDECAR_SUFFIXES.values())]:
        path = artifacts_dir / name
        if path.is_file() and name not in files:
            digest, size = sha256_file(path)
            files[name] = PublishedFile(name, size, digest, path)
    for name, info in dict(platform_files or {}).items():
        if platform_dir is None:
            raise CheckFailed("platform files given without their folder")
        files[name] = PublishedFile(name, int(info["size"]), str(info["sha256"]), platform_dir / name)
    missing = [f.name for f in files.values() if not f.source.is_file()]
    if missing:
        raise CheckFailed(f"{len(missing)} file(s) to publish are missing: {', '.join(sorted(missing))}",
                          hint="rebuild, or wait for the platform hand-offs again")
    return sorted(files.values(), key=lambda f: f.name)


def release_payload(version: Version, *, notes_url: str = "") -> ReleasePayload:
    """The downloads-site Release object for a version (never published here: see `publish`)."""
    return ReleasePayload(name=f"Python {version.text}", slug=release_slug(version), version=version.major,
                          pre_release=version.is_prerelease, is_published=False, release_notes_url=notes_url)


def release_slug(version: Version) -> str:
    """python.org's release page slug: `python-3140rc1`."""
    return "python-" + version.text.replace(".", "")


def registrable(profile: str, version: Version, security: bool = False) -> list[ArtifactSpec]:
    return [s for s in expected_files(get_profile(profile), version, security) if s.register]


def desired_files(profile: str, version: Version, published: Iterable[PublishedFile], *, file_base_url: str,
                  os_uris: Mapping[str, str], release_uri: str, security: bool = False) -> list[ReleaseFilePayload]:
    """The release's file list as it must be on the downloads site: one row per registrable
    artifact that is published, sidecar URLs only for sidecars that are published too."""
    by_name = {f.name: f for f in published}
    base = file_base_url if file_base_url.endswith("/") else file_base_url + "/"
    rows = []
    for spec in registrable(profile, version, security):
        if spec.name not in by_name:
            if spec.required:
                raise CheckFailed(f"{spec.name} ({spec.label}) is required but not published")
            continue
        file = by_name[spec.name]
        url = base + spec.name
        sidecars = {KIND_FIELDS[kind]: url + name[len(spec.name):]
                    for name, kind in zip(spec.sidecars, spec.sidecar_kinds)
                    if name in by_name and kind in KIND_FIELDS}
        rows.append(ReleaseFilePayload(
            name=spec.label, slug=file_slug(version, spec.label), os=os_uris[spec.os], release=release_uri,
            description=spec.description, is_source=spec.os == "source", url=url, sha256_sum=file.sha256,
            filesize=file.size, download_button=spec.download_button, **sidecars))
    return rows


def public_urls(files: Iterable[PublishedFile], file_base_url: str) -> list[tuple[str, int, str]]:
    base = file_base_url if file_base_url.endswith("/") else file_base_url + "/"
    return [(base + f.name, f.size, f.sha256) for f in files]


__all__ = [
    "PublishedFile",
    "desired_files",
    "folder_name",
    "public_urls",
    "publication",
    "registrable",
    "release_payload",
    "release_slug",
]
