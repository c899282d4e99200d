"""The signed release manifest `<version>.manifest.json`.

It lists every file of the release (name, size, SHA-256, the artifact manifest's key,
producer, platform/OS and label), each sidecar with its own size and SHA-256, the tag and
commit the release came from, how it was built, and who signed it. It is signed like the
artifacts (`<version>.manifest.json.asc` / `.sigstore`), so one signature check covers the
digests of everything else: `relman verify` starts here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CheckFailed
from ..version import Version
from .archive import BuiltFile, write_file
from .checksums import sha256_file
from .manifest import RELEASE, ArtifactProfile, ArtifactSpec, expected_files, get_profile

SCHEMA = "relman.release-manifest/1"


def manifest_spec(profile: ArtifactProfile | str, version: Version | str) -> ArtifactSpec:
    for spec in expected_files(profile, version, producer=RELEASE):
        if spec.key == "release-manifest":
            return spec
    raise CheckFailed(f"profile {get_profile(profile).name!r} has no release-manifest artifact")


def _digest(directory: Path, name: str, known: Mapping[str, tuple[str, int]]) -> tuple[str, int]:
    if name in known:
        return known[name]
    return sha256_file(directory / name)


def build_release_manifest(*, profile: ArtifactProfile | str, version: Version | str, tag: str, commit: str,
                           directory: Path, specs: Sequence[ArtifactSpec], built: Mapping[str, Any] | None = None,
                           signers: Sequence[Mapping[str, Any]] = (), unsigned: bool = False,
                           known: Mapping[str, tuple[str, int]] | None = None,
                           source_date_epoch: int | None = None) -> dict[str, Any]:
    """The manifest document for the files of `specs` found in `directory`.

    Every spec's file must exist; sidecars are listed when present (signatures of a spec the
    signer does not produce are simply absent). `known` maps name → (sha256, size) for files
    whose digests were computed while writing them."""
    prof = get_profile(profile)
    v = version if isinstance(version, Version) else Version.parse(version)
    known = known or {}
    missing = [s.name for s in specs if not (directory / s.name).is_file()]
    if missing:
        raise CheckFailed(f"cannot write the release manifest: {len(missing)} file(s) missing in {directory}: "
                          + ", ".join(missing), hint="build or wait for them first")
    files = []
    for spec in specs:
        digest, size = _digest(directory, spec.name, known)
        sidecars = []
        for name, kind in zip(spec.sidecars, spec.sidecar_kinds):
            if (directory / name).is_file():
                s_digest, s_size = _digest(directory, name, known)
                sidecars.append({"name": name, "kind": kind, "size": s_size, "sha256": s_digest})
        files.append({"name": spec.name, "size": size, "sha256": digest, "key": spec.key,
                      "producer": spec.producer, "platform": spec.os, "label": spec.label, "sidecars": sidecars})
    return {
        "schema": SCHEMA,
        "project": prof.project,
        "profile": prof.name,
        "version": v.text,
        "tag": tag,
        "commit": commit,
        "source_date_epoch": source_date_epoch,
        "signing": {"unsigned": unsigned and not signers, "signers": list(signers)},
        "built": dict(built or {}, tool=f"relman {__version__}"),
        "files": files,
    }


def manifest_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_release_manifest(document: Mapping[str, Any], directory: Path,
                           profile: ArtifactProfile | str | None = None) -> BuiltFile:
    name = manifest_spec(profile or document["profile"], document["version"]).name
    return write_file(directory / name, manifest_json(document))


def load_release_manifest(data: bytes, *, where: str = "manifest") -> dict[str, Any]:
    """Parse and shape-check a manifest; CheckFailed with what is wrong."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckFailed(f"the release manifest is not valid JSON: {exc}", where=where) from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise CheckFailed(f"not a relman release manifest (schema {SCHEMA} expected)", where=where)
    files = document.get("files")
    if not isinstance(files, list):
        raise CheckFailed("the release manifest has no file list", where=where)
    for i, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("size"), int) or not isinstance(entry.get("sha256"), str) \
                or "/" in entry["name"] or entry["name"].startswith("."):
            raise CheckFailed(f"file entry {i} is malformed", where=where)
        for side in entry.get("sidecars", []):
            if not isinstance(side, dict) or not isinstance(side.get("name"), str) or "/" in side["name"] \
                    or not isinstance(side.get("size"), int) or not isinstance(side.get("sha256"), str):
                raise CheckFailed(f"a sidecar of {entry['name']} is malformed", where=where)
    return document


def all_listed(document: Mapping[str, Any]) -> Iterable[tuple[str, int, str]]:
    """(name, size, sha256) of every file and sidecar the manifest lists."""
    for entry in document["files"]:
        yield entry["name"], entry["size"], entry["sha256"]
        for side in entry.get("sidecars", []):
            yield side["name"], side["size"], side["sha256"]
