"""The artifact manifest: every file a release can have, per profile, as data.

One table per profile lists each artifact a release may ship: its file name pattern, who
produces it (`source`, `docs`, `release` for the files relman writes about the others, or a
platform hand-off such as `platform:windows`), the downloads-site OS slug, label, download
button and description, the sidecar files published next to it, and when it is required (a
version range, the release levels, security-only releases or not).

`expected_files(profile, version, security=False)` is the one place file names come from:
builds, waits for hand-offs, publishing, CDN purge and `relman verify` all read it, so no file
name is spelled twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import UsageError
from ..version import Version

# Producers. A platform hand-off is `platform:<os slug>`.
SOURCE, DOCS, RELEASE = "source", "docs", "release"

# Sidecar kinds.
GPG, SIGSTORE, SBOM = "gpg", "sigstore", "sbom"
SIDECAR_SUFFIXES = {GPG: ".asc", SIGSTORE: ".sigstore", SBOM: ".spdx.json"}

VersionBound = tuple[int, ...]


@dataclass(frozen=True)
class Sidecar:
    """A file published next to an artifact: `<artifact><suffix>`.

    `since`/`until` bound the versions (X.Y tuples, `until` exclusive) that have it."""

    kind: str                        # gpg | sigstore | sbom
    since: VersionBound | None = None
    until: VersionBound | None = None

    @property
    def suffix(self) -> str:
        return SIDECAR_SUFFIXES[self.kind]

    def applies(self, version: Version) -> bool:
        return _in_range(version, self.since, self.until)


@dataclass(frozen=True)
class ArtifactRule:
    """One row of a profile's table (a file name *pattern*; see `ArtifactSpec` for a resolved one)."""

    key: str                          # stable id: "source-tar.xz", "windows-amd64-exe"
    pattern: str                      # "Python-{version}.tar.xz"; fields: version, normalized, basic
    producer: str                     # source | docs | release | platform:<os>
    os: str                           # downloads-site OS slug: source, windows, macos, android, ios, docs
    label: str                        # "XZ compressed source tarball"
    download_button: bool = False
    description: str = ""
    # (since X.Y, text) pairs: the last whose `since` the version reaches replaces `description`.
    descriptions: tuple[tuple[VersionBound, str], ...] = ()
    sidecars: tuple[Sidecar, ...] = ()
    since: VersionBound | None = None     # first X.Y (inclusive) that has it
    until: VersionBound | None = None     # first X.Y (exclusive) that no longer has it
    levels: frozenset[str] | None = None  # release levels that have it (a, b, rc, f); None = all
    security: bool | None = None          # True: only security releases; False: never; None: both
    required: bool = True                 # a missing required file blocks publishing
    register: bool = True                 # listed as a file of the release on the downloads site
    docs_format: str | None = None        # docs: html | text | epub | texinfo

    def applies(self, version: Version, security: bool = False) -> bool:
        if not _in_range(version, self.since, self.until):
            return False
        if self.levels is not None and version.level not in self.levels:
            return False
        if self.security is not None and self.security != security:
            return False
        return True

    def filename(self, version: Version) -> str:
        return self.pattern.format(version=version.text, normalized=version.normalized,
                                   basic=version.basic_version)

    def description_for(self, version: Version) -> str:
        text = self.description
        for since, override in self.descriptions:
            if version.at_least(*since):
                text = override
        return text.format(version=version.text, normalized=version.normalized, basic=version.basic_version)

    def resolve(self, version: Version) -> ArtifactSpec:
        name = self.filename(version)
        return ArtifactSpec(
            name=name, key=self.key, producer=self.producer, os=self.os, label=self.label,
            download_button=self.download_button, description=self.description_for(version),
            sidecars=tuple(name + s.suffix for s in self.sidecars if s.applies(version)),
            sidecar_kinds=tuple(s.kind for s in self.sidecars if s.applies(version)),
            required=self.required, register=self.register, docs_format=self.docs_format)


@dataclass(frozen=True)
class ArtifactSpec:
    """An artifact of one release: the rule resolved for a version (what everyone else reads)."""

    name: str
    key: str
    producer: str
    os: str
    label: str
    download_button: bool
    description: str
    sidecars: tuple[str, ...]
    sidecar_kinds: tuple[str, ...]
    required: bool
    register: bool
    docs_format: str | None = None

    @property
    def platform(self) -> str | None:
        """The hand-off platform (`windows`…) for `platform:*` producers, else None."""
        return self.producer.split(":", 1)[1] if self.producer.startswith("platform:") else None

    def sidecar(self, kind: str) -> str | None:
        for name, k in zip(self.sidecars, self.sidecar_kinds):
            if k == kind:
                return name
        return None

    @property
    def compression(self) -> str | None:
        """The archive format the file name says: tgz, tar.xz, tar.bz2, zip, tar.gz; else None."""
        for ext in ("tar.xz", "tar.bz2", "tar.gz", "tgz", "zip"):
            if self.name.endswith("." + ext):
                return ext
        return None

    def as_dict(self) -> dict:
        return {"name": self.name, "key": self.key, "producer": self.producer, "os": self.os,
                "label": self.label, "download_button": self.download_button,
                "description": self.description, "sidecars": list(self.sidecars),
                "required": self.required, "register": self.register}


@dataclass(frozen=True)
class ArtifactProfile:
    """Everything about a project's release files: the table plus how each producer works."""

    name: str
    project: str                                  # "CPython": the SBOM package name
    archive_root: str                             # "Python-{version}": the folder inside source archives
    rules: tuple[ArtifactRule, ...]
    # --- export rules for source archives (paths relative to the tree root) ---
    # A pattern starting with "**/" matches at any depth; otherwise it is anchored at the root.
    # A matching directory is removed with everything under it.
    export_remove: tuple[str, ...] = ()
    news_dir: str | None = None                   # "Misc/NEWS.d": merged into news_output, then removed
    news_output: str | None = None                # "Misc/NEWS"
    xz_preset: int = 6
    xz_blocks: int = 2                            # the .tar.xz has this many independent blocks
    gzip_level: int = 9
    # --- test-source: commands run in the unpacked tree; {prefix} and {jobs} are filled in ---
    test_commands: tuple[tuple[str, ...], ...] = ()
    # --- docs: the Sphinx source folder and builders; None = the profile has no docs ---
    docs_source: str | None = None
    docs_builders: tuple[tuple[str, str], ...] = (("html", "html"), ("text", "text"))  # format → builder
    docs_root: str = "python-{version}-docs-{format}"   # the folder inside docs archives
    # --- SBOM ---
    sbom_partial: str | None = None               # "Misc/sbom.spdx.json" inside the tree
    sbom_supplier: str = "NOASSERTION"
    sbom_license: str = "NOASSERTION"
    sbom_cpe: str | None = None                   # "cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*"
    sbom_purl: str | None = None                  # "pkg:generic/sample@{version}"
    download_url: str = "https://downloads.invalid/{normalized}/"   # folder URL of a release's files
    sbom_creator: str = "Organization: Release Managers"

    def rule(self, key: str) -> ArtifactRule:
        for rule in self.rules:
            if rule.key == key:
                return rule
        raise UsageError(f"profile {self.name!r} has no artifact {key!r}",
                         hint="known: " + ", ".join(r.key for r in self.rules))

    def archive_root_for(self, version: Version) -> str:
        return self.archive_root.format(version=version.text, normalized=version.normalized)

    def url_for(self, version: Version, name: str) -> str:
        return self.download_url.format(version=version.text, normalized=version.normalized) + name


def _in_range(version: Version, since: VersionBound | None, until: VersionBound | None) -> bool:
    if since is not None and not version.at_least(*since):
        return False
    if until is not None and version.at_least(*until):
        return False
    return True


# ---- the tables ---------------------------------------------------------------------------

_RC_FINAL = frozenset({"rc", "f"})
# PEP 761: no GPG signatures from 3.14 on; Sigstore bundles for every file.
_SIGNED = (Sidecar(GPG, until=(3, 14)), Sidecar(SIGSTORE))
_SOURCE_SIDECARS = (*_SIGNED, Sidecar(SBOM, since=(3, 12)))
_WINDOWS_SIDECARS = (Sidecar(GPG, until=(3, 14)), Sidecar(SIGSTORE), Sidecar(SBOM, since=(3, 12)))


def _docs_rules(formats: Sequence[tuple[str, str, str]], sidecars: tuple[Sidecar, ...]) -> tuple[ArtifactRule, ...]:
    rules = []
    for fmt, ext, label in formats:
        rules.append(ArtifactRule(
            key=f"docs-{fmt}-{ext}", pattern=f"python-{{version}}-docs-{fmt}.{ext}" if fmt != "epub"
            else "python-{version}-docs.epub", producer=DOCS, os="docs", label=label,
            sidecars=sidecars, levels=_RC_FINAL, register=False, docs_format=fmt))
    return tuple(rules)


def _release_rules(sidecars: tuple[Sidecar, ...]) -> tuple[ArtifactRule, ...]:
    return (
        ArtifactRule(key="sha256sums", pattern="SHA256SUMS", producer=RELEASE, os="release",
                     label="SHA-256 checksums", register=False),
        ArtifactRule(key="release-manifest", pattern="{version}.manifest.json", producer=RELEASE,
                     os="release", label="Signed release manifest", sidecars=sidecars, register=False),
    )


CPYTHON = ArtifactProfile(
    name="cpython",
    project="CPython",
    archive_root="Python-{version}",
    rules=(
        ArtifactRule(key="source-tgz", pattern="Python-{version}.tgz", producer=SOURCE, os="source",
                     label="Gzipped source tarball", sidecars=_SOURCE_SIDECARS),
        ArtifactRule(key="source-tar.xz", pattern="Python-{version}.tar.xz", producer=SOURCE, os="source",
                     label="XZ compressed source tarball", download_button=True, sidecars=_SOURCE_SIDECARS),
        *_docs_rules([("html", "zip", "HTML documentation (zip)"),
                      ("html", "tar.bz2", "HTML documentation (tar.bz2)"),
                      ("text", "zip", "Plain text documentation (zip)"),
                      ("text", "tar.bz2", "Plain text documentation (tar.bz2)"),
                      ("texinfo", "zip", "Texinfo documentation (zip)"),
                      ("texinfo", "tar.bz2", "Texinfo documentation (tar.bz2)"),
                      ("epub", "epub", "EPUB documentation")], ()),
        # Windows: no binaries for security-only releases; the MSI-based .exe ends with 3.15.
        ArtifactRule(key="windows-manifest", pattern="windows-{version}.json", producer="platform:windows",
                     os="windows", label="Windows release manifest",
                     description="Install with 'py install {basic}'", since=(3, 14), security=False),
        ArtifactRule(key="windows-embed-amd64", pattern="python-{version}-embed-amd64.zip",
                     producer="platform:windows", os="windows", label="Windows embeddable package (64-bit)",
                     sidecars=_WINDOWS_SIDECARS, security=False),
        ArtifactRule(key="windows-embed-arm64", pattern="python-{version}-embed-arm64.zip",
                     producer="platform:windows", os="windows", label="Windows embeddable package (ARM64)",
                     sidecars=_WINDOWS_SIDECARS, security=False),
        ArtifactRule(key="windows-arm64-exe", pattern="python-{version}-arm64.exe", producer="platform:windows",
                     os="windows", label="Windows installer (ARM64)", description="Experimental",
                     sidecars=_WINDOWS_SIDECARS, security=False, until=(3, 16)),
        ArtifactRule(key="windows-amd64-exe", pattern="python-{version}-amd64.exe", producer="platform:windows",
                     os="windows", label="Windows installer (64-bit)", download_button=True,
                     description="Recommended", sidecars=_WINDOWS_SIDECARS, security=False, until=(3, 16)),
        ArtifactRule(key="windows-embed-win32", pattern="python-{version}-embed-win32.zip",
                     producer="platform:windows", os="windows", label="Windows embeddable package (32-bit)",
                     sidecars=_WINDOWS_SIDECARS, security=False),
        ArtifactRule(key="windows-win32-exe", pattern="python-{version}.exe", producer="platform:windows",
                     os="windows", label="Windows installer (32-bit)", sidecars=_WINDOWS_SIDECARS,
                     security=False, until=(3, 16)),
        ArtifactRule(key="macos-pkg", pattern="python-{version}-macos11.pkg", producer="platform:macos",
                     os="macos", label="macOS installer", download_button=True,
                     description="for macOS 10.13 and later",
                     descriptions=(((3, 14), "for macOS 10.15 and later"),), sidecars=_SIGNED, security=False),
        ArtifactRule(key="android-aarch64", pattern="python-{version}-aarch64-linux-android.tar.gz",
                     producer="platform:android", os="android", label="Android embeddable package (aarch64)",
                     sidecars=_SIGNED, since=(3, 14)),
        ArtifactRule(key="android-x86_64", pattern="python-{version}-x86_64-linux-android.tar.gz",
                     producer="platform:android", os="android", label="Android embeddable package (x86_64)",
                     sidecars=_SIGNED, since=(3, 14)),
        ArtifactRule(key="ios-xcframework", pattern="python-{version}-iOS-XCframework.tar.gz",
                     producer="platform:ios", os="ios", label="iOS XCframework", sidecars=_SIGNED, since=(3, 15)),
        *_release_rules(_SIGNED),
    ),
    export_remove=(".git", ".github", ".gitignore", ".gitattributes", ".azure-pipelines", "Misc/mypy",
                   "Doc/venv", "Doc/build", "Doc/dist", "**/__pycache__", "**/*.pyc", "**/*.pyo"),
    news_dir="Misc/NEWS.d",
    news_output="Misc/NEWS",
    test_commands=(("./configure", "--prefix={prefix}"), ("make", "-j{jobs}"), ("make", "install", "-j{jobs}"),
                   ("{prefix}/bin/python3", "-m", "test", "-uall", "-j{jobs}")),
    docs_source="Doc",
    docs_builders=(("html", "html"), ("text", "text"), ("texinfo", "texinfo"), ("epub", "epub")),
    sbom_partial="Misc/sbom.spdx.json",
    sbom_supplier="Organization: Python Software Foundation",
    sbom_license="PSF-2.0",
    sbom_cpe="cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*",
    download_url="https://www.python.org/ftp/python/{normalized}/",
    sbom_creator="Person: Python Release Managers",
)

# The sample project `relman demo` releases: CPython-shaped, small, built with make and Sphinx.
DEMO = ArtifactProfile(
    name="demo",
    project="Sample",
    archive_root="Python-{version}",
    rules=(
        ArtifactRule(key="source-tgz", pattern="Python-{version}.tgz", producer=SOURCE, os="source",
                     label="Gzipped source tarball", sidecars=(Sidecar(GPG), Sidecar(SBOM))),
        ArtifactRule(key="source-tar.xz", pattern="Python-{version}.tar.xz", producer=SOURCE, os="source",
                     label="XZ compressed source tarball", download_button=True,
                     sidecars=(Sidecar(GPG), Sidecar(SBOM))),
        *_docs_rules([("html", "zip", "HTML documentation (zip)"),
                      ("html", "tar.bz2", "HTML documentation (tar.bz2)"),
                      ("text", "tar.bz2", "Plain text documentation (tar.bz2)")], (Sidecar(GPG),)),
        # Platform hand-offs, delivered in the demo by stand-in builders (placeholder files).
        ArtifactRule(key="windows-amd64-exe", pattern="python-{version}-amd64.exe", producer="platform:windows",
                     os="windows", label="Windows installer (64-bit)", download_button=True,
                     description="Stand-in: a placeholder from the demo's stand-in Windows builder", security=False),
        ArtifactRule(key="macos-pkg", pattern="python-{version}-macos11.pkg", producer="platform:macos",
                     os="macos", label="macOS installer", download_button=True,
                     description="Stand-in: a placeholder from the demo's stand-in macOS builder", security=False),
        *_release_rules((Sidecar(GPG),)),
    ),
    export_remove=(".git", ".github", ".gitignore", ".gitattributes", "Doc/build", "**/__pycache__",
                   "**/*.pyc", "**/*.pyo"),
    news_dir="Misc/NEWS.d",
    news_output="Misc/NEWS",
    test_commands=(("make",), ("make", "test")),
    docs_source="Doc",
    docs_builders=(("html", "html"), ("text", "text")),
    sbom_partial="Misc/sbom.spdx.json",
    sbom_supplier="Organization: Sample Project",
    sbom_license="MIT",
    sbom_purl="pkg:generic/sample@{version}",
    download_url="https://downloads.example.org/ftp/python/{normalized}/",  # spdx-tools rejects IP hosts
    sbom_creator="Organization: Sample Project release managers",
)

PROFILES: dict[str, ArtifactProfile] = {p.name: p for p in (CPYTHON, DEMO)}


def get_profile(profile: str | ArtifactProfile) -> ArtifactProfile:
    if isinstance(profile, ArtifactProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise UsageError(f"unknown artifact profile {profile!r}",
                         hint="known profiles: " + ", ".join(sorted(PROFILES))) from None


def _as_version(version: Version | str) -> Version:
    return version if isinstance(version, Version) else Version.parse(version)


def expected_files(profile: str | ArtifactProfile, version: Version | str, security: bool = False,
                   *, producer: str | None = None) -> list[ArtifactSpec]:
    """Every artifact this release has, in table order; the one place file names come from.

    `producer` narrows to one producer (`source`, `docs`, `release`, `platform:windows`…) or,
    with `platform:*`, to every hand-off."""
    prof, v = get_profile(profile), _as_version(version)
    specs = [rule.resolve(v) for rule in prof.rules if rule.applies(v, security)]
    if producer == "platform:*":
        return [s for s in specs if s.platform]
    if producer is not None:
        return [s for s in specs if s.producer == producer]
    return specs


def spec_for(profile: str | ArtifactProfile, version: Version | str, key: str,
             security: bool = False) -> ArtifactSpec:
    """The artifact with this key for this release (UsageError if the release has none)."""
    for spec in expected_files(profile, version, security):
        if spec.key == key:
            return spec
    raise UsageError(f"release {version} of profile {get_profile(profile).name!r} has no artifact {key!r}")


def match_file(profile: str | ArtifactProfile, version: Version | str, name: str,
               security: bool = False) -> ArtifactSpec | None:
    """The artifact (or None) a file name is, for labelling files found in a folder."""
    for spec in expected_files(profile, version, security):
        if spec.name == name:
            return spec
    return None


def all_names(specs: Sequence[ArtifactSpec], *, sidecars: bool = True) -> list[str]:
    """Artifact names, and (by default) their sidecars: what a release folder holds."""
    names: list[str] = []
    for spec in specs:
        names.append(spec.name)
        if sidecars:
            names.extend(spec.sidecars)
    return names


_SLUG_DROP = re.compile(r"[^a-zA-Z0-9_-]")


def file_slug(version: Version | str, label: str) -> str:
    """The downloads-site slug of a file: `3140-rc2-Windows-installer-64-bit` (python.org's rule)."""
    v = _as_version(version)
    base = v.normalized.replace(".", "")
    if not v.is_final:
        base += f"-{v.level}{v.serial}"
    return base + "-" + _SLUG_DROP.sub("", label.replace(" ", "-"))[:40]


__all__ = ["ArtifactProfile", "ArtifactRule", "ArtifactSpec", "Sidecar", "CPYTHON", "DEMO", "PROFILES",
           "expected_files", "spec_for", "match_file", "all_names", "get_profile", "file_slug",
           "SOURCE", "DOCS", "RELEASE", "GPG", "SIGSTORE", "SBOM"]
