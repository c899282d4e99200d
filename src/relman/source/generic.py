"""The generic profile: bump the version of a plain Python package, configured by path and pattern.

Each rule names a file and either a TOML key (`project.version` in `pyproject.toml`, edited
with tomlkit so comments and layout survive) or a regex whose group `version` (or first group)
holds the version (`__version__ = "1.2.3"` in `__init__.py`). Configured rules are strict: a
missing file, key or match is an error, because a silently unbumped file ships the wrong version.

In relman.toml (the top-level `version_files` setting)::

    version_files = [
        {path = "pyproject.toml"},     # key defaults to project.version for .toml files
        {path = "src/pkg/__init__.py", pattern = '__version__ = "(?P<version>[^"]+)"'},
    ]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomlkit
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from tomlkit.exceptions import TOMLKitError

from ..errors import ConfigError, UsageError
from .edits import EditSet
from .regex import sub_groups

INIT_VERSION_PATTERN = r"""^__version__\s*(?::\s*str\s*)?=\s*(?P<q>["'])(?P<version>[^"'\n]+)(?P=q)"""


@dataclass(frozen=True)
class VersionFile:
    """Where a version lives: `path` plus either `key` (TOML, dotted) or `pattern` (regex)."""

    path: str
    pattern: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if bool(self.pattern) == bool(self.key):
            raise ConfigError(f"version file {self.path!r}: give exactly one of 'pattern' or 'key'")
        if self.pattern:
            try:
                compiled = re.compile(self.pattern, re.MULTILINE)
            except re.error as error:
                raise ConfigError(f"version file {self.path!r}: bad pattern {self.pattern!r}: {error}") from None
            if "version" not in compiled.groupindex and compiled.groups < 1:
                raise ConfigError(f"version file {self.path!r}: the pattern has no group",
                                  hint="capture the version as (?P<version>...)")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> VersionFile:
        if "path" not in data or not isinstance(data["path"], str):
            raise ConfigError(f"version file entry {dict(data)!r} has no 'path'")
        unknown = set(data) - {"path", "pattern", "key"}
        if unknown:
            raise ConfigError(f"version file {data['path']!r}: unknown setting(s) {', '.join(sorted(unknown))}",
                              hint="use path plus pattern or key")
        key = data.get("key")
        if not data.get("pattern") and not key and data["path"].endswith(".toml"):
            key = "project.version"
        return cls(data["path"], data.get("pattern"), key)


def default_version_files(package: str | None = None, *, src_layout: bool = True) -> list[VersionFile]:
    """`pyproject.toml`'s `project.version`, plus `__version__` in the package's `__init__.py`."""
    files = [VersionFile("pyproject.toml", key="project.version")]
    if package:
        init = f"{'src/' if src_layout else ''}{package.replace('.', '/')}/__init__.py"
        files.append(VersionFile(init, pattern=INIT_VERSION_PATTERN))
    return files


def parse_version_files(rules: Iterable[VersionFile | Mapping[str, Any]]) -> list[VersionFile]:
    return [rule if isinstance(rule, VersionFile) else VersionFile.from_mapping(rule) for rule in rules]


def check_package_version(version: str) -> str:
    try:
        return str(Pep440Version(version))
    except InvalidVersion:
        raise UsageError(f"{version!r} is not a valid PEP 440 version",
                         hint="for example 1.4.0, 2.0.0rc1 or 1.4.1.post1") from None


def plan_generic(edits: EditSet, version: str, rules: Sequence[VersionFile | Mapping[str, Any]]) -> None:
    """Plan writing `version` into every configured file."""
    version = version.strip()
    check_package_version(version)
    files = parse_version_files(rules)
    if not files:
        raise ConfigError("no version files configured", hint="add version_files = [{path = ...}] to relman.toml (or package = \"NAME\")")
    for rule in files:
        where = str(edits.path(rule.path))
        if not edits.exists(rule.path):
            raise UsageError(f"{rule.path} does not exist", where=where,
                             hint="fix the path in relman.toml version_files")
        text = edits.read(rule.path)
        if rule.key:
            new = _set_toml_key(text, rule.key, version, where)
        else:
            compiled = re.compile(rule.pattern or "", re.MULTILINE)
            group = "version" if "version" in compiled.groupindex else 1
            new, count = _sub_group(compiled, text, group, version)
            if not count:
                raise UsageError(f"the pattern {rule.pattern!r} matches nothing", where=where,
                                 hint="check the pattern in relman.toml version_files against the file")
        edits.write(rule.path, new)
        if new == text:
            edits.note(rule.path, f"already at {version}", "info")


def _sub_group(compiled: re.Pattern[str], text: str, group: str | int, value: str) -> tuple[str, int]:
    if isinstance(group, str):
        return sub_groups(compiled, text, {group: value})
    # An unnamed first group: wrap the pattern so it has a name.
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        start, end = match.span(1)
        whole = match.group(0)
        base = match.start()
        return whole[: start - base] + value + whole[end - base:]

    return compiled.sub(replace, text), count


def _set_toml_key(text: str, key: str, version: str, where: str) -> str:
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise UsageError(f"not valid TOML: {error}", where=where) from None
    *parents, last = key.split(".")
    table: Any = document
    for part in parents:
        if not isinstance(table, Mapping) or part not in table:
            raise UsageError(f"no [{'.'.join(parents)}] table", where=where, hint=f"expected the key {key}")
        table = table[part]
    if last not in table:
        dynamic = table.get("dynamic", []) if isinstance(table, Mapping) else []
        hint = (f"{last!r} is listed in dynamic: point a pattern rule at the file that holds it"
                if last in dynamic else f"add {key} = \"{version}\" or configure another file")
        raise UsageError(f"no {key} key", where=where, hint=hint)
    current = table[last]
    if str(current) == version:
        return text
    table[last] = version
    return tomlkit.dumps(document)
