"""Everything `relman artifacts build` does, as one library call the release DAG can also use
piece by piece: source archives (optionally through the reproducibility gate), an SBOM per
source archive, docs for rc/final, signatures, SHA256SUMS and the signed release manifest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckFailed
from ..version import Version
from .archive import BuiltFile, GenerateHook, SourceBuild, build_source_archives, check_reproducible, news_hook
from .checksums import sha256_file, write_sha256sums
from .docs import DocsBuild, build_docs
from .manifest import DOCS, RELEASE, SBOM, SOURCE, ArtifactProfile, ArtifactSpec, expected_files, get_profile
from .release_manifest import build_release_manifest, write_release_manifest
from .sbom import build_source_sbom, load_partial, validate_sbom, write_sbom
from .signing import Signer


@dataclass
class ReleaseArtifacts:
    version: str
    directory: Path
    source: SourceBuild
    docs: DocsBuild | None
    sboms: list[BuiltFile] = field(default_factory=list)
    signatures: list[Path] = field(default_factory=list)
    sha256sums: Path | None = None
    manifest: BuiltFile | None = None
    unsigned: bool = True
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return {"version": self.version, "directory": str(self.directory), "source": self.source.as_dict(),
                "docs": self.docs.as_dict() if self.docs else None,
                "sboms": [f.as_dict() for f in self.sboms], "signatures": [str(p) for p in self.signatures],
                "sha256sums": str(self.sha256sums) if self.sha256sums else None,
                "manifest": self.manifest.as_dict() if self.manifest else None, "unsigned": self.unsigned,
                "wall_s": round(self.wall_s, 3)}


def write_sboms(source: SourceBuild, directory: Path, *, profile: ArtifactProfile | str,
                specs: Sequence[ArtifactSpec], validate: bool = False) -> list[BuiltFile]:
    """`<archive>.spdx.json` for each source archive whose spec lists an SBOM sidecar."""
    prof = get_profile(profile)
    partial = load_partial({prof.sbom_partial: source.partial_sbom}, prof) \
        if prof.sbom_partial and source.partial_sbom is not None else None
    written = []
    for spec in specs:
        name = spec.sidecar(SBOM)
        if not name:
            continue
        document = build_source_sbom(profile=prof, version=source.version, artifact=source.file(spec.name),
                                     members=source.members, created_epoch=source.source_date_epoch,
                                     partial=partial)
        if validate:
            messages = validate_sbom(document)
            if messages:
                raise CheckFailed(f"the SBOM of {spec.name} is not valid SPDX 2.3: " + "; ".join(messages[:10]))
        written.append(write_sbom(document, directory / name))
    return written


def sign_specs(directory: Path, specs: Sequence[ArtifactSpec], signers: Sequence[Signer]) -> list[Path]:
    """Sign each artifact with each signer whose kind the artifact manifest lists for it."""
    written = []
    for spec in specs:
        for signer in signers:
            if signer.kind in spec.sidecar_kinds:
                written.append(signer.sign(directory / spec.name))
    return written


def default_news_hook(profile: ArtifactProfile, version: Version) -> GenerateHook | None:
    """Merge the tag's news fragments with relman's blurb-compatible merge."""
    if not profile.news_dir:
        return None
    from ..news.api import merge_news

    return news_hook(lambda folder: merge_news(folder), profile)


def build_release_artifacts(repo: Path, version: Version | str, out_dir: Path, *,
                            profile: ArtifactProfile | str, generate: GenerateHook | None = None,
                            signers: Sequence[Signer] = (), docs: bool = True, reproducible_check: bool = False,
                            security: bool = False, validate_sboms: bool = False,
                            ref: str | None = None) -> ReleaseArtifacts:
    """Source archives, SBOMs, docs (rc/final), signatures, SHA256SUMS and the signed manifest."""
    started = time.perf_counter()
    prof = get_profile(profile)
    v = version if isinstance(version, Version) else Version.parse(version)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    builder = check_reproducible if reproducible_check else build_source_archives
    source = builder(repo, v, out_dir, profile=prof, generate=generate, ref=ref, security=security)
    source_specs = expected_files(prof, v, security, producer=SOURCE)
    sboms = write_sboms(source, out_dir, profile=prof, specs=source_specs, validate=validate_sboms)
    docs_build = build_docs(repo, v, out_dir, profile=prof, generate=generate, ref=ref, security=security) \
        if docs else None
    doc_specs = expected_files(prof, v, security, producer=DOCS) if docs_build and not docs_build.skipped else []
    specs = [*source_specs, *doc_specs]
    known = {f.name: (f.sha256, f.size) for f in [*source.files, *sboms, *(docs_build.files if docs_build else [])]}
    built = {"source": source.build_info}
    if docs_build and not docs_build.skipped:
        built["docs"] = {"method": "sphinx-build from the tag with SOURCE_DATE_EPOCH; deterministic zip/tar.bz2"}
    signatures, sums, manifest = seal_release(out_dir, profile=prof, version=v, specs=specs, tag=source.tag,
                                              commit=source.commit, source_date_epoch=source.source_date_epoch,
                                              built=built, signers=signers, security=security, known=known)
    return ReleaseArtifacts(v.text, out_dir, source, docs_build, sboms, signatures, sums, manifest,
                            unsigned=not signers, wall_s=time.perf_counter() - started)


def seal_release(out_dir: Path, *, profile: ArtifactProfile, version: Version, specs: Sequence[ArtifactSpec],
                 tag: str, commit: str, source_date_epoch: int | None, built: dict, signers: Sequence[Signer],
                 security: bool = False, known: dict[str, tuple[str, int]] | None = None,
                 ) -> tuple[list[Path], Path, BuiltFile]:
    """Sign the built files of `specs` in `out_dir`, write SHA256SUMS and the release manifest, and
    sign the manifest: (signatures, SHA256SUMS, manifest). Used right after a build here, and at
    home for files built unsigned on remote workers (the keys never leave this machine)."""
    known = dict(known or {})
    signatures = sign_specs(out_dir, specs, signers)
    for path in signatures:
        known[path.name] = sha256_file(path)
    sums_spec = next(s for s in expected_files(profile, version, security, producer=RELEASE) if s.key == "sha256sums")
    listed = {}
    for spec in specs:
        for name in (spec.name, *spec.sidecars):
            if (out_dir / name).is_file():
                listed[name] = known[name][0] if name in known else sha256_file(out_dir / name)[0]
    sums = write_sha256sums(out_dir / sums_spec.name, listed)
    known[sums.name] = sha256_file(sums)
    document = build_release_manifest(profile=profile, version=version, tag=tag, commit=commit,
                                      directory=out_dir, specs=[*specs, sums_spec], built=built,
                                      signers=[s.describe() for s in signers], unsigned=not signers,
                                      known=known, source_date_epoch=source_date_epoch)
    manifest = write_release_manifest(document, out_dir, profile)
    for signer in signers:     # the manifest is signed by every signer: verify starts from it
        signatures.append(signer.sign(manifest.path))
    return signatures, sums, manifest
