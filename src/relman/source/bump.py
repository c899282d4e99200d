"""The public entry points: plan or apply a version bump of a CPython-shaped checkout.

Each `plan_*` function fills an `EditSet` (nothing written) so a caller can show a diff or
compose steps; each `bump_*`/`replace_*`/`prepare_*` function plans, writes atomically and
returns the paths it changed (empty when the tree was already there: every step converges).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..version import Version
from .docnext import plan_doc_next
from .edits import EditSet
from .generic import VersionFile, plan_generic
from .newmain import CPYTHON_NEW_MAIN_RULES, plan_new_main
from .patchlevel import plan_patchlevel
from .readme import plan_readme
from .rules import Rule


def plan_version(edits: EditSet, version: Version, *, done: bool = False,
                 release_cycle: Mapping[str, Any] | None = None) -> None:
    """Plan `Include/patchlevel.h` and `README.rst` for `version` (with the `+`/`+dev` suffix when done)."""
    plan_patchlevel(edits, version, done=done)
    plan_readme(edits, version, done=done, release_cycle=release_cycle)


def plan_release_bump(repo: Path, version: Version, *, done: bool = False,
                      release_cycle: Mapping[str, Any] | None = None, docs: bool = True) -> EditSet:
    """Everything `relman bump V` changes, planned, not written.

    - `done`: patchlevel and README get the post-release suffix; nothing else.
    - `X.Y.0a0`: patchlevel and README, the new-main rules and the What's New skeleton; doc
      `next` markers stay (they belong to the coming X.Y.0 releases).
    - any release: patchlevel and README, and (with `docs`) `next` → `doc_version` under `Doc/`.
    """
    edits = EditSet(Path(repo))
    plan_version(edits, version, done=done, release_cycle=release_cycle)
    if done:
        return edits
    if version.is_development_start:
        plan_new_main(edits, version)
    elif docs:
        plan_doc_next(edits, version.doc_version)
    return edits


def bump_version(repo: Path, version: Version, *, done: bool = False,
                 release_cycle: Mapping[str, Any] | None = None) -> list[Path]:
    """Rewrite `Include/patchlevel.h` and `README.rst` for `version`; return the changed paths.

    `release_cycle` is schedule data in `release-cycle.json` shape (`{"3.14": {"pep": 745}}`);
    without it the README keeps its PEP number for the same X.Y and writes TODO for a new one.
    Raises UsageError (exit 2) naming the file when patchlevel.h lacks its marker lines or
    README.rst does not start with "This is Python version".
    """
    edits = EditSet(Path(repo))
    plan_version(edits, version, done=done, release_cycle=release_cycle)
    return edits.apply()


def replace_doc_next(repo: Path, doc_version: str, *, roots: Iterable[str] = ("Doc",)) -> list[Path]:
    """Replace `next` in `.. versionadded:: next` and the other directives in every `.rst` under `Doc/`."""
    edits = EditSet(Path(repo))
    plan_doc_next(edits, doc_version, roots=tuple(roots))
    return edits.apply()


def prepare_new_main(repo: Path, version: Version, *, rules: Sequence[Rule] = CPYTHON_NEW_MAIN_RULES) -> list[Path]:
    """The `X.Y.0a0` edits on main (configured rules + What's New skeleton); return the changed paths.

    Does not touch patchlevel.h or README.rst: call `bump_version` for those (or use
    `plan_release_bump`, which does both). Missing files are skipped; `plan_release_bump(...).notes`
    or `plan_new_main` report them.
    """
    edits = EditSet(Path(repo))
    plan_new_main(edits, version, rules=rules)
    return edits.apply()


def bump_generic(repo: Path, version: str, rules: Sequence[VersionFile | Mapping[str, Any]]) -> list[Path]:
    """Write `version` (PEP 440) into each configured file of a plain Python package."""
    edits = EditSet(Path(repo))
    plan_generic(edits, version, rules)
    return edits.apply()
