"""SPDX 2.3 JSON SBOMs for source archives.

One document per source archive, published as `<archive>.spdx.json`:

- document fields with a deterministic `created` time (the tagged commit's time), so building
  twice gives the same bytes;
- the project package (name, version, supplier, license, download location, the archive's
  SHA-256, the CPE and/or purl the profile gives, a package verification code);
- the packages, files and relationships of the project's own partial SBOM when the tree has
  one (CPython's `Misc/sbom.spdx.json`): each of its files must be in the archive with the same
  SHA-256, and the project DEPENDS_ON each of its packages;
- every other regular file of the archive (SHA-1 and SHA-256) that the project CONTAINS;
- lists sorted, JSON with sorted keys.

`validate_sbom` runs spdx-tools' full validation; `check_sbom` runs the structural checks
(duplicate ids, relationship endpoints) without it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CheckFailed
from ..version import Version
from .archive import BuiltFile, Member, read_archive_members, write_file
from .manifest import ArtifactProfile, get_profile

_ID_DROP = re.compile(r"[^a-zA-Z0-9.\-]+")
LICENSE_LIST_VERSION = "3.22"


class SpdxIds:
    """SPDX ids from arbitrary names, unique within one document (collisions get a hash suffix)."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def reserve(self, spdx_id: str, value: str) -> None:
        self._owner.setdefault(spdx_id, value)

    def make(self, prefix: str, value: str) -> str:
        spdx_id = f"{prefix}-{_ID_DROP.sub('-', value)}"
        owner = self._owner.setdefault(spdx_id, value)
        if owner != value:
            spdx_id = f"{spdx_id}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"
            self._owner.setdefault(spdx_id, value)
        return spdx_id


def iso_time(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _checksums(sha1: str | None, sha256: str) -> list[dict[str, str]]:
    out = [{"algorithm": "SHA256", "checksumValue": sha256}]
    if sha1:
        out.insert(0, {"algorithm": "SHA1", "checksumValue": sha1})
    return out


def _checksum(entry: Mapping[str, Any], algorithm: str) -> str | None:
    for item in entry.get("checksums", []):
        if item.get("algorithm") == algorithm:
            return str(item.get("checksumValue", "")).lower()
    return None


def verification_code(sha1s: Sequence[str]) -> str:
    return hashlib.sha1("".join(sorted(s.lower() for s in sha1s)).encode("ascii")).hexdigest()


def normalize(value: Any) -> Any:
    """Sort every list (innermost first) by its items' canonical JSON: stable output."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalize(v) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def build_source_sbom(*, profile: ArtifactProfile | str, version: Version | str, artifact: BuiltFile,
                      members: Sequence[Member], created_epoch: int,
                      partial: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SPDX 2.3 document for one source archive (see the module docstring)."""
    prof = get_profile(profile)
    v = version if isinstance(version, Version) else Version.parse(version)
    ids = SpdxIds()
    by_path = {m.path: m for m in members}
    packages: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    relationships: list[dict[str, str]] = []
    problems: list[str] = []
    partial_paths: set[str] = set()
    if partial:
        for entry in partial.get("packages", []):
            ids.reserve(entry["SPDXID"], "package:" + entry.get("name", entry["SPDXID"]))
            packages.append(dict(entry))
        for entry in partial.get("files", []):
            path = entry.get("fileName", "")
            ids.reserve(entry["SPDXID"], path)
            partial_paths.add(path)
            member = by_path.get(path)
            if member is None:
                problems.append(f"{path}: listed in {prof.sbom_partial} but not in {artifact.name}")
                continue
            listed = _checksum(entry, "SHA256")
            if listed and listed != member.sha256:
                problems.append(f"{path}: SHA-256 in {prof.sbom_partial} is {listed}, the archive has {member.sha256}")
                continue
            files.append({**entry, "checksums": _checksums(member.sha1, member.sha256)})
        relationships.extend(dict(r) for r in partial.get("relationships", []))
    if problems:
        raise CheckFailed(f"the project's partial SBOM does not match {artifact.name}: " + "; ".join(problems),
                          where=prof.sbom_partial, hint="regenerate it (CPython: make regen-sbom) and tag again")

    project_id = ids.make("SPDXRef-PACKAGE", prof.project.lower())
    for member in members:
        if member.path in partial_paths:
            continue
        file_id = ids.make("SPDXRef-FILE", member.path)
        files.append({"SPDXID": file_id, "fileName": member.path,
                      "checksums": _checksums(member.sha1, member.sha256)})
        relationships.append({"spdxElementId": project_id, "relatedSpdxElement": file_id,
                              "relationshipType": "CONTAINS"})
    for entry in packages:
        relationships.append({"spdxElementId": project_id, "relatedSpdxElement": entry["SPDXID"],
                              "relationshipType": "DEPENDS_ON"})
    refs = []
    if prof.sbom_cpe:
        refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                     "referenceLocator": prof.sbom_cpe.format(version=v.text)})
    if prof.sbom_purl:
        refs.append({"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                     "referenceLocator": prof.sbom_purl.format(version=v.text)})
    project = {
        "SPDXID": project_id, "name": prof.project, "versionInfo": v.text,
        "licenseConcluded": prof.sbom_license, "originator": prof.sbom_supplier, "supplier": prof.sbom_supplier,
        "packageFileName": artifact.name, "downloadLocation": prof.url_for(v, artifact.name),
        "checksums": [{"algorithm": "SHA256", "checksumValue": artifact.sha256}],
        "externalRefs": refs, "primaryPackagePurpose": "SOURCE",
    }
    packages.append(project)
    relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": project_id,
                          "relationshipType": "DESCRIBES"})
    # Verification codes: over the SHA-1 of the files each package CONTAINS.
    sha1_of = {f["SPDXID"]: _checksum(f, "SHA1") for f in files}
    contained: dict[str, list[str]] = {}
    for rel in relationships:
        if rel["relationshipType"] == "CONTAINS" and rel["relatedSpdxElement"] in sha1_of:
            contained.setdefault(rel["spdxElementId"], []).append(sha1_of[rel["relatedSpdxElement"]] or "")
    for entry in packages:
        if entry["SPDXID"] in contained:
            entry["filesAnalyzed"] = True
            entry["packageVerificationCode"] = {"packageVerificationCodeValue":
                                                verification_code(contained[entry["SPDXID"]])}
        else:
            entry["filesAnalyzed"] = False
            entry.pop("packageVerificationCode", None)
    document = {
        "SPDXID": "SPDXRef-DOCUMENT",
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "name": f"{prof.project} {v.text} SBOM ({artifact.name})",
        "documentNamespace": prof.url_for(v, artifact.name) + ".spdx.json",
        "creationInfo": {"created": iso_time(created_epoch),
                         "creators": [prof.sbom_creator, f"Tool: relman-{__version__}"],
                         "licenseListVersion": LICENSE_LIST_VERSION},
        "packages": packages,
        "files": files,
        "relationships": relationships,
    }
    document = normalize(document)
    problems = check_sbom(document)
    if problems:
        raise CheckFailed(f"the SBOM for {artifact.name} is inconsistent: " + "; ".join(problems))
    return document


def load_partial(files: Mapping[str, bytes], profile: ArtifactProfile | str) -> dict[str, Any] | None:
    """The project's partial SBOM from the tree's files (None when the profile or tree has none)."""
    prof = get_profile(profile)
    if not prof.sbom_partial or prof.sbom_partial not in files:
        return None
    try:
        data = json.loads(files[prof.sbom_partial])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckFailed(f"{prof.sbom_partial} is not valid JSON: {exc}", where=prof.sbom_partial) from None
    if not isinstance(data, dict):
        raise CheckFailed(f"{prof.sbom_partial} is not a JSON object", where=prof.sbom_partial)
    return data


def sbom_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_sbom(document: Mapping[str, Any], path: Path) -> BuiltFile:
    return write_file(path, sbom_json(document))


def sbom_for_archive(archive: Path, *, profile: ArtifactProfile | str, version: Version | str,
                     created_epoch: int) -> dict[str, Any]:
    """The SBOM of an archive on disk (reads its members; the partial SBOM from inside it)."""
    prof = get_profile(profile)
    members = read_archive_members(archive)
    partial = None
    if prof.sbom_partial and prof.sbom_partial in members:
        import tarfile
        with tarfile.open(archive, "r:*") as tar:
            for info in tar:
                if info.isreg() and info.name.split("/", 1)[-1] == prof.sbom_partial:
                    partial = load_partial({prof.sbom_partial: tar.extractfile(info).read()}, prof)  # type: ignore
                    break
    from .checksums import sha256_file
    digest, size = sha256_file(archive)
    built = BuiltFile(archive.name, archive, size, digest)
    return build_source_sbom(profile=prof, version=version, artifact=built, members=list(members.values()),
                             created_epoch=created_epoch, partial=partial)


def check_sbom(document: Mapping[str, Any]) -> list[str]:
    """Structural checks: unique ids, no package/file id overlap, relationship endpoints exist."""
    problems = []
    package_ids = [p.get("SPDXID") for p in document.get("packages", [])]
    file_ids = [f.get("SPDXID") for f in document.get("files", [])]
    for kind, found in (("package", package_ids), ("file", file_ids)):
        seen: set[str] = set()
        for spdx_id in found:
            if spdx_id in seen:
                problems.append(f"duplicate {kind} id {spdx_id}")
            seen.add(spdx_id)
    for spdx_id in set(package_ids) & set(file_ids):
        problems.append(f"id {spdx_id} is both a package and a file")
    known = set(package_ids) | set(file_ids) | {"SPDXRef-DOCUMENT"}
    for rel in document.get("relationships", []):
        for end in ("spdxElementId", "relatedSpdxElement"):
            if rel.get(end) not in known:
                problems.append(f"relationship {rel.get('spdxElementId')} {rel.get('relationshipType')} "
                                f"{rel.get('relatedSpdxElement')}: unknown {rel.get(end)}")
    return problems


def validate_sbom(document: Mapping[str, Any] | Path) -> list[str]:
    """spdx-tools' full SPDX 2.3 validation; returns the messages (empty: valid)."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    if isinstance(document, Path):
        try:
            document = json.loads(document.read_bytes())
        except ValueError as exc:
            return [f"not JSON: {exc}"]
    try:
        parsed = JsonLikeDictParser().parse(dict(document))  # type: ignore[arg-type]
    except SPDXParsingError as exc:
        return [str(m) for m in exc.get_messages()]
    return [m.validation_message for m in validate_full_spdx_document(parsed)]
