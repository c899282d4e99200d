"""`README.rst`: the title line and its underline, and the version links below them.

Line 1 becomes `This is Python version <long name><suffix>` and line 2 a row of `=` of the
same length. When not `done` (a release, not the post-release bump) three links move to the
release's `X.Y`: the What's New page, the documentation, and the release-schedule PEP, whose
number comes from schedule data in `release-cycle.json` shape (`{"3.14": {"pep": 745}}`),
passed in as a mapping: nothing here goes to the network. When the link must move to an X.Y
whose PEP the data does not have, `UnknownPep` stops the edit (nothing is written, and the
hint names the flag and the settings that supply it): a placeholder is never written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from ..version import Version
from .edits import EditSet, newline_of
from .regex import sub_groups

README = "README.rst"
TITLE_PREFIX = "This is Python version "

WHATSNEW_LINK = re.compile(
    r"(?P<v1>\d+\.\d+)(?P<gap>\s+)<https://docs\.python\.org/(?P<v2>\d+\.\d+)/whatsnew/(?P<v3>\d+\.\d+)\.html>`_")
DOCS_LINK = re.compile(
    r"`Documentation\s+for\s+Python\s+(?P<v1>\d+\.\d+)\s+<https://docs\.python\.org/(?P<v2>\d+\.\d+)/>`_")
PEP_LINK = re.compile(
    r"`PEP\s+(?P<pep>\d+|TODO)\s+<https://peps\.python\.org/pep-(?P<padded>\d+|TODO)/>`__\s+for\s+Python\s+"
    r"(?P<v>\d+\.\d+)")


class UnknownPep(UsageError):
    """The release-schedule PEP is needed and no schedule data has it: nothing is written."""


def pep_hint(basic_version: str) -> str:
    return (f"give schedule data that lists {basic_version}: `relman bump --release-cycle release-cycle.json`; "
            "for `relman run`, in relman.toml `[readiness] cycle = ...` (a release-cycle.json, a "
            "python-releases.toml or a URL) or `release_peps = { \"" + basic_version + "\" = N }`")


def title(version: Version, *, done: bool = False) -> str:
    return TITLE_PREFIX + version.long_name + (version.post_release_suffix if done else "")


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def release_pep(release_cycle: Mapping[str, Any] | None, basic_version: str) -> int | None:
    """The release-schedule PEP for `X.Y` from `release-cycle.json`-shaped data, or None."""
    entry = (release_cycle or {}).get(basic_version)
    if not isinstance(entry, Mapping):
        return None
    pep = entry.get("pep")
    try:
        return int(pep) if pep is not None and str(pep).strip() else None
    except (TypeError, ValueError):
        return None


def rewrite_readme(text: str, version: Version, *, done: bool = False,
                   release_cycle: Mapping[str, Any] | None = None, where: str = README,
                   notes: list[str] | None = None) -> str:
    """The README text for `version`. `notes` (when given) collects links that were not found."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].startswith(TITLE_PREFIX):
        found = lines[0].rstrip("\r\n") if lines else "(empty file)"
        raise UsageError(f"line 1 is {found!r}, expected it to start with {TITLE_PREFIX!r}",
                         where=f"{where}:1", hint="is --repo a CPython checkout?")
    newline = newline_of(text)
    heading = title(version, done=done)
    underline = "=" * len(heading)
    first_end = _ending(lines[0])
    second = lines[1].rstrip("\r\n") if len(lines) >= 2 else ""
    if second and set(second) == {"="}:
        head = [heading + first_end, underline + _ending(lines[1])]
        rest = lines[2:]
    else:  # no underline yet: add one, keeping whether the file ended after line 1
        head = [heading + newline, underline + first_end]
        rest = lines[1:]
    out = "".join(head + rest)
    if done:
        return out

    xy = version.basic_version
    out, n = sub_groups(WHATSNEW_LINK, out, {"v1": xy, "v2": xy, "v3": xy})
    if not n and notes is not None:
        notes.append("no What's New link (`X.Y <https://docs.python.org/X.Y/whatsnew/X.Y.html>`_) found")
    out, n = sub_groups(DOCS_LINK, out, {"v1": xy, "v2": xy})
    if not n and notes is not None:
        notes.append("no `Documentation for Python X.Y <https://docs.python.org/X.Y/>`_ link found")

    pep = release_pep(release_cycle, xy)

    def pep_value(match: re.Match[str]) -> str:
        if pep is not None:
            return str(pep)
        # Unknown PEP: keep the one already there for the same X.Y; never write a placeholder.
        if match["v"] == xy and match["pep"] != "TODO":
            return match["pep"]
        line = out.count("\n", 0, match.start()) + 1
        raise UnknownPep(f"the release-schedule PEP for Python {xy} is not known: the README's "
                         f"release-schedule link (now {match[0]!r}) would need a placeholder",
                         where=f"{where}:{line}", hint=pep_hint(xy))

    def padded_value(match: re.Match[str]) -> str:
        value = pep_value(match)
        return value.zfill(4) if value.isdigit() else value

    out, n = sub_groups(PEP_LINK, out, {"pep": pep_value, "padded": padded_value, "v": xy})
    if not n and notes is not None:
        notes.append("no `PEP N <https://peps.python.org/pep-NNNN/>`__ for Python X.Y link found")
    return out


def plan_readme(edits: EditSet, version: Version, *, done: bool = False,
                release_cycle: Mapping[str, Any] | None = None) -> None:
    """Plan the README rewrite in `edits`; links that are not found become notes."""
    text = edits.read(README)
    missing: list[str] = []
    new = rewrite_readme(text, version, done=done, release_cycle=release_cycle,
                         where=str(edits.path(README)), notes=missing)
    for message in missing:
        edits.note(README, message, "no-match")
    edits.write(README, new)
