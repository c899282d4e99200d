"""The version a source tree says it is, and whether a release may follow it.

The tree is the primary fact: `Include/patchlevel.h`'s `PY_VERSION` for a CPython-shaped
checkout (`3.15.0a2+dev` = development after 3.15.0a2, `3.15.0a0` = a new main), the first
configured version file for a plain package. Git tags are a cross-check: a clone without tags
(a shallow CI clone, a fork that never fetched them) releases exactly as a full one does, and
when tags exist and disagree with the tree the message names both.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from ..errors import UsageError, VersionError
from ..version import Version, check_increasing, check_transition, versions_from_tags
from .generic import VersionFile, parse_version_files
from .patchlevel import PATCHLEVEL, read_patchlevel_version

_DEV_SUFFIXES = ("+dev", "+")


@dataclass(frozen=True)
class TreeVersion:
    """What the tree says: the raw text, where it was read, and the version it is at or after."""

    raw: str
    where: str                  # "Include/patchlevel.h"
    base: str                   # the raw text without a development suffix
    development: bool           # True after a release ("+", "+dev", ".devN"), False at a release version

    def as_dict(self) -> dict[str, Any]:
        return {"raw": self.raw, "where": self.where, "base": self.base, "development": self.development}


def read_cpython_tree_version(repo: Path) -> TreeVersion | None:
    """`PY_VERSION` from `Include/patchlevel.h`, or None when the file or the line is missing."""
    path = Path(repo) / PATCHLEVEL
    if not path.is_file():
        return None
    raw = read_patchlevel_version(path.read_text(encoding="utf-8", errors="replace"))
    if not raw:
        return None
    for suffix in _DEV_SUFFIXES:
        if raw.endswith(suffix):
            return TreeVersion(raw, PATCHLEVEL, raw[: -len(suffix)], True)
    return TreeVersion(raw, PATCHLEVEL, raw, False)


def read_version_file(repo: Path, rule: VersionFile) -> str | None:
    """The version a configured file holds (TOML key or regex group), or None when absent."""
    path = Path(repo) / rule.path
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    if rule.key:
        try:
            value: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
        for part in rule.key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return str(value) if isinstance(value, str) else None
    compiled = re.compile(rule.pattern or "", re.MULTILINE)
    match = compiled.search(text)
    if not match:
        return None
    return match["version"] if "version" in compiled.groupindex else match[1]


def read_generic_tree_version(repo: Path, rules: Sequence[VersionFile | Mapping[str, Any]]) -> TreeVersion | None:
    """The version in the first configured version file that has one (a plain package)."""
    for rule in parse_version_files(rules):
        raw = read_version_file(repo, rule)
        if raw is None:
            continue
        try:
            parsed = Pep440Version(raw)
        except InvalidVersion:
            raise UsageError(f"{raw!r} in {rule.path} is not a PEP 440 version", where=rule.path,
                             hint="fix the version in the file, or the relman.toml version_files rule that reads it") from None
        development = parsed.is_devrelease or bool(parsed.local) or parsed.is_postrelease
        return TreeVersion(raw, rule.path, parsed.base_version if development else raw, development)
    return None


def _series_latest(tags: Iterable[str], version: Version) -> Version | None:
    same = [v for v in versions_from_tags(tags) if (v.major, v.minor) == (version.major, version.minor)
            and not v.is_development_start]
    return max(same) if same else None


def check_cpython_transition(version: Version, tree: TreeVersion | None, tags: Iterable[str]) -> dict[str, Any]:
    """Refuse a release that cannot follow the tree's version; tags cross-check it.

    Without a readable patchlevel.h the tags decide alone (as before). Returns what was used.
    """
    tags = list(tags)
    if tree is None:
        check_transition(version, tags)
        return {"source": "tags"}
    if version.is_development_start:
        raise VersionError(f"{version} is the start of development on main, not a release",
                           hint="release an alpha, beta, release candidate or final version")
    try:
        base = Version.parse(tree.base)
    except VersionError:
        raise UsageError(f"PY_VERSION {tree.raw!r} in {tree.where} is not a CPython version",
                         where=tree.where, hint="expected something like \"3.15.0a2+dev\"") from None
    if version in versions_from_tags(tags):
        raise VersionError(f"{version} was already released: tag {version.git_tag} exists",
                           hint=f"{tree.where} says {tree.raw}")
    said = f"{tree.where} says {tree.raw}"
    # What the tree is after: a release (X.Y.ZaN+dev), a new main (X.Y.0a0), or a release version.
    if base.is_development_start:
        released, allowed = None, [Version(base.major, base.minor, 0, "a", 1)]
    elif tree.development:
        released, allowed = base, base.successors()
    elif version == base:   # the tree was bumped to this version already (a commit not yet tagged)
        released, allowed = None, [base]
    else:
        released, allowed = base, base.successors()
    latest = _series_latest(tags, base)
    if version == base and not tree.development:
        agrees = latest is None or latest < base
        expected = f"no {base.basic_version} release at or after {base} yet"
    elif released is None:
        agrees = latest is None
        expected = f"no {base.basic_version} release yet"
    else:
        agrees = latest is None or latest == released
        expected = f"the latest {base.basic_version} release to be {released}"
    if not agrees and latest is not None:
        raise VersionError(
            f"the tree and the tags disagree: {said} (so {expected}), but the latest "
            f"{base.basic_version} tag is {latest.git_tag}",
            hint="pull the release branch and fetch the tags (git fetch --tags), or delete a stray tag; "
                 "the tree's version is what relman trusts")
    if version not in allowed:
        after = f"{released}, the version in {tree.where} ({tree.raw})" if released else \
            f"{tree.where} ({tree.raw})"
        if (version.major, version.minor) != (base.major, base.minor):
            raise VersionError(f"{version} is not in the series of the tree: {said}",
                               hint=f"check out the {version.branch} branch, or release one of: "
                                    f"{', '.join(v.text for v in allowed)}")
        raise VersionError(f"{version} cannot follow {after}",
                           hint="valid next versions: " + ", ".join(v.text for v in allowed))
    return {"source": "tree", "tree": tree.as_dict(), "latest_tag": latest.git_tag if latest else None,
            "allowed": [v.text for v in allowed]}


def check_generic_transition(version: Version, tree: TreeVersion | None, tags: Iterable[str]) -> dict[str, Any]:
    """A plain package: the release is not older than the tree's version; tags cross-check it."""
    tags = list(tags)
    check_increasing(version, tags)
    if tree is None:
        return {"source": "tags"}
    current = Pep440Version(tree.raw)    # 1.4.0.dev0 < 1.4.0 < 1.4.0+dev (PEP 440 order)
    target = version.pep440
    if target < current:
        raise VersionError(f"{version} is older than the tree's version: {tree.where} says {tree.raw}",
                           hint="versions only go forward")
    newer = [v for v in versions_from_tags(tags) if v.pep440 > current]
    if newer:
        raise VersionError(f"the tree and the tags disagree: {tree.where} says {tree.raw}, but tag "
                           f"{newer[-1].git_tag} is newer",
                           hint="pull the release branch, or delete a stray tag")
    return {"source": "tree", "tree": tree.as_dict()}
