"""The CPython version and stage model: one source of truth for every version fact.

A release is `X.Y.Z` optionally followed by `aN`, `bN` or `rcN`. Everything the release
needs to know about a version (branch, feature freeze, docs, tag name, long name, the
post-release suffix, the valid next releases) is derived here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import total_ordering
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from .errors import VersionError

# ASCII digits only: `\d` would accept full-width and other Unicode digits.
_N = r"(?:0|[1-9][0-9]*)"
_STRICT = re.compile(rf"(?P<major>{_N})\.(?P<minor>{_N})\.(?P<micro>{_N})(?:(?P<level>a|b|rc)(?P<serial>{_N}))?")

LEVEL_ORDER = {"a": 0, "b": 1, "rc": 2, "f": 3}
LEVEL_WORDS = {"a": "alpha", "b": "beta", "rc": "release candidate"}
# The names patchlevel.h uses for each level.
LEVEL_MACROS = {"a": "PY_RELEASE_LEVEL_ALPHA", "b": "PY_RELEASE_LEVEL_BETA", "rc": "PY_RELEASE_LEVEL_GAMMA",
                "f": "PY_RELEASE_LEVEL_FINAL"}
_PEP440_PRE = {"a": "a", "b": "b", "rc": "rc"}

# From 3.15 on, development builds carry the PEP 440-valid "+dev" local suffix; before it "+".
_DEV_SUFFIX_FROM = (3, 15)


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    micro: int = 0
    level: str = "f"  # a, b, rc or f (final)
    serial: int = 0

    # ---- parsing -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a release version spelled the one way CPython's tools accept: `X.Y.Z`,
        optionally followed by `aN`, `bN` or `rcN` (ASCII digits, lower case, nothing else).

        Every other spelling is refused, never guessed at: `3.14` (which release?), `3.14.0c1`,
        `v3.14.0rc1`, full-width digits. When the text is a recognisable PEP 440 spelling of a
        release, the error's hint names the canonical spelling to type instead.
        """
        if not isinstance(text, str) or not text.strip():
            raise VersionError("empty version", hint="give a version such as 3.14.0rc1")
        raw = text.strip()
        match = _STRICT.fullmatch(raw)
        if match:
            level = match["level"] or "f"
            return cls(int(match["major"]), int(match["minor"]), int(match["micro"]), level,
                       int(match["serial"] or 0))
        raise VersionError(f"{raw!r} is not a release version: expected X.Y.Z, X.Y.ZaN, X.Y.ZbN or X.Y.ZrcN "
                           "(for example 3.14.0, 3.14.0b1, 3.14.0rc2)", hint=cls._canonical_hint(raw))

    @classmethod
    def _canonical_hint(cls, raw: str) -> str | None:
        """"did you mean 3.14.0rc1?" for spellings PEP 440 reads as a release; None otherwise."""
        if not raw.isascii():
            ascii_text = "".join(str(int(ch)) if ch.isdecimal() else ch for ch in raw)
            if ascii_text != raw and ascii_text.isascii():
                suggestion = cls._canonical_hint(ascii_text)
                if suggestion:
                    return suggestion
                if _STRICT.fullmatch(ascii_text):
                    return f"use ASCII digits: {ascii_text}"
            return "use ASCII digits and letters only"
        try:
            pv = Pep440Version(raw)
        except InvalidVersion:
            return None
        if pv.epoch or pv.post is not None or pv.dev is not None or pv.local or not 2 <= len(pv.release) <= 3:
            return "post, dev, local and epoch parts are not release versions"
        major, minor, *rest = pv.release
        if not rest:
            return (f"say which release of {major}.{minor} you mean, e.g. {major}.{minor}.0 "
                    f"or {major}.{minor}.0rc1")
        try:
            canonical = cls.from_pep440(pv)
        except VersionError as error:
            return error.message
        return f"did you mean {canonical.text}? (the only spelling relman accepts)"

    @classmethod
    def from_label(cls, text: str) -> Version | None:
        """A version read from someone else's data (a tracker milestone such as "3.14"), in any
        PEP 440 spelling; None when it names no release. Never for what a person typed: that
        goes through `parse`, which refuses to guess."""
        try:
            pv = Pep440Version(text.strip())
        except InvalidVersion:
            return None
        if pv.epoch or pv.post is not None or pv.dev is not None or pv.local or not 2 <= len(pv.release) <= 3:
            return None
        try:
            return cls.from_pep440(pv)
        except VersionError:
            return None

    @classmethod
    def from_pep440(cls, pv: Pep440Version) -> Version:
        major, minor, *rest = pv.release
        micro = rest[0] if rest else 0
        if pv.pre is None:
            return cls(major, minor, micro)
        letter, serial = pv.pre
        return cls(major, minor, micro, letter, serial)

    def __post_init__(self) -> None:
        if self.level not in LEVEL_ORDER:
            raise VersionError(f"unknown release level {self.level!r}: use a, b, rc or f")
        if min(self.major, self.minor, self.micro, self.serial) < 0:
            raise VersionError("version numbers cannot be negative")
        if self.level == "f" and self.serial:
            raise VersionError("a final release has no serial number")
        if self.level in ("b", "rc") and self.serial < 1:
            raise VersionError(f"{self.level}0 does not exist: betas and release candidates start at 1")

    # ---- ordering ------------------------------------------------------------------------
    @property
    def sort_key(self) -> tuple[int, int, int, int, int]:
        return (self.major, self.minor, self.micro, LEVEL_ORDER[self.level], self.serial)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key < other.sort_key

    def at_least(self, *prefix: int) -> bool:
        """`v.at_least(3, 14)`: is this version in 3.14 or later?"""
        return (self.major, self.minor, self.micro)[: len(prefix)] >= prefix

    # ---- names ---------------------------------------------------------------------------
    @property
    def text(self) -> str:
        base = f"{self.major}.{self.minor}.{self.micro}"
        return base if self.is_final else f"{base}{self.level}{self.serial}"

    def __str__(self) -> str:
        return self.text

    @property
    def pep440(self) -> Pep440Version:
        return Pep440Version(self.text)

    @property
    def basic_version(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def normalized(self) -> str:
        """`X.Y.Z`, the folder name on the downloads server."""
        return f"{self.major}.{self.minor}.{self.micro}"

    @property
    def git_tag(self) -> str:
        return f"v{self.text}"

    @property
    def nickname(self) -> str:
        return self.text.replace(".", "")

    @property
    def long_name(self) -> str:
        if self.is_final:
            return self.normalized
        return f"{self.normalized} {LEVEL_WORDS[self.level]} {self.serial}"

    @property
    def doc_version(self) -> str:
        """What replaces `next` in `.. versionadded:: next`: `X.Y` for X.Y.0, else `X.Y.Z`."""
        return self.basic_version if self.micro == 0 else self.normalized

    @property
    def level_macro(self) -> str:
        return LEVEL_MACROS[self.level]

    # ---- stage facts ---------------------------------------------------------------------
    @property
    def is_final(self) -> bool:
        return self.level == "f"

    @property
    def is_alpha(self) -> bool:
        return self.level == "a"

    @property
    def is_beta(self) -> bool:
        return self.level == "b"

    @property
    def is_release_candidate(self) -> bool:
        return self.level == "rc"

    @property
    def is_prerelease(self) -> bool:
        return not self.is_final

    @property
    def is_feature_freeze(self) -> bool:
        """Beta 1 freezes features and creates the X.Y maintenance branch."""
        return self.level == "b" and self.serial == 1

    @property
    def is_development_start(self) -> bool:
        """X.Y.0a0 is not a release: it is what main becomes after the previous beta 1."""
        return self.level == "a" and self.serial == 0

    @property
    def includes_docs(self) -> bool:
        return self.level in ("rc", "f")

    @property
    def branch(self) -> str:
        """Alphas and beta 1 are released from main; everything later from the X.Y branch."""
        if self.is_alpha or self.is_feature_freeze:
            return "main"
        return self.basic_version

    @property
    def post_release_suffix(self) -> str:
        return "+dev" if self.at_least(*_DEV_SUFFIX_FROM) else "+"

    @property
    def next_minor(self) -> Version:
        return Version(self.major, self.minor + 1, 0, "a", 0)

    def is_security_release(self, release_cycle: Mapping[str, Mapping[str, Any]]) -> bool:
        """From the schedule data (`release-cycle.json` shape): is this branch security-only?"""
        entry = release_cycle.get(self.basic_version)
        return entry is not None and entry.get("status") == "security"

    # ---- transitions ---------------------------------------------------------------------
    def successors(self) -> list[Version]:
        """The releases that may follow this one in the same X.Y series."""
        X, Y, Z = self.major, self.minor, self.micro
        if self.level == "a":
            return [Version(X, Y, Z, "a", self.serial + 1), Version(X, Y, Z, "b", 1)]
        if self.level == "b":
            return [Version(X, Y, Z, "b", self.serial + 1), Version(X, Y, Z, "rc", 1)]
        if self.level == "rc":
            return [Version(X, Y, Z, "rc", self.serial + 1), Version(X, Y, Z)]
        return [Version(X, Y, Z + 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.text,
            "major": self.major,
            "minor": self.minor,
            "micro": self.micro,
            "level": self.level,
            "serial": self.serial,
            "pep440": str(self.pep440),
            "basic_version": self.basic_version,
            "normalized": self.normalized,
            "long_name": self.long_name,
            "git_tag": self.git_tag,
            "nickname": self.nickname,
            "branch": self.branch,
            "doc_version": self.doc_version,
            "is_final": self.is_final,
            "is_prerelease": self.is_prerelease,
            "is_feature_freeze": self.is_feature_freeze,
            "includes_docs": self.includes_docs,
            "post_release_suffix": self.post_release_suffix,
            "post_release_version": self.text + self.post_release_suffix,
            "next_minor": self.next_minor.text,
            "level_macro": self.level_macro,
        }


def versions_from_tags(tags: Iterable[str]) -> list[Version]:
    """The release versions among git tag names (`v3.14.0rc1`); other tags are ignored."""
    found = []
    for tag in tags:
        name = tag[1:] if tag.startswith("v") else None
        if not name:
            continue
        match = _STRICT.fullmatch(name)
        if match and match["micro"] is not None:
            try:
                found.append(Version.parse(name))
            except VersionError:
                continue
    return sorted(found)


def valid_next_versions(existing: Iterable[Version], series: tuple[int, int] | None = None) -> list[Version]:
    """The releases that may come next: per X.Y series, the successors of its latest release.

    With `series`, only that series; a series with no releases yet starts at X.Y.0a1.
    """
    latest: dict[tuple[int, int], Version] = {}
    for v in existing:
        if v.is_development_start:
            continue
        key = (v.major, v.minor)
        if key not in latest or latest[key] < v:
            latest[key] = v
    if series is not None:
        if series in latest:
            return latest[series].successors()
        return [Version(series[0], series[1], 0, "a", 1)]
    result = [s for v in latest.values() for s in v.successors()]
    if latest:
        major, minor = max(latest)
        result.append(Version(major, minor + 1, 0, "a", 1))
    return sorted(set(result))


def check_transition(version: Version, existing_tags: Iterable[str]) -> None:
    """Refuse a release that is not a valid next step given the tags that exist already."""
    existing = versions_from_tags(existing_tags)
    if version.is_development_start:
        raise VersionError(f"{version} is the start of development on main, not a release",
                           hint="release an alpha, beta, release candidate or final version")
    if version in existing:
        raise VersionError(f"{version} was already released: tag {version.git_tag} exists",
                           hint="choose the next version: " + _names(valid_next_versions(existing)))
    series = (version.major, version.minor)
    allowed = valid_next_versions(existing, series)
    if version in allowed:
        return
    same_series = [v for v in existing if (v.major, v.minor) == series and not v.is_development_start]
    if same_series:
        latest = max(same_series)
        raise VersionError(
            f"{version} cannot follow {latest}, the latest {series[0]}.{series[1]} release",
            hint=f"valid next versions after {latest}: {_names(allowed)}")
    raise VersionError(
        f"{version} cannot be the first {series[0]}.{series[1]} release",
        hint=f"the {series[0]}.{series[1]} series starts with {_names(allowed)}")


def check_increasing(version: Version, existing_tags: Iterable[str]) -> None:
    """The rule for plain packages: a new release is newer than every release so far."""
    existing = versions_from_tags(existing_tags)
    if version in existing:
        raise VersionError(f"{version} was already released: tag {version.git_tag} exists")
    if existing and version < existing[-1]:
        raise VersionError(f"{version} is older than the latest release {existing[-1]}",
                           hint="versions only go forward")


def _names(versions: Iterable[Version]) -> str:
    return ", ".join(v.text for v in versions) or "(none)"
