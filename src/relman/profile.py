"""Which kind of project a checkout is, and how its version is bumped: one rule each.

The configuration loader, the CLI commands (`relman bump`, `relman artifacts`) and the release
steps all ask these functions, so they cannot disagree about a tree.

- `is_cpython_checkout(repo)`: Include/patchlevel.h, Lib/ and Misc/NEWS.d/ exist. Nothing that
  a build generates (configure, Makefile) is needed, so a fresh or `git clean`ed checkout counts.
- `detect_profile(repo, configured)`: the configured profile, else cpython or generic.
- `plan_version_bump(...)`: the version edits of a release (an EditSet, planned, not written),
  for the CPython rules (cpython and demo profiles) or a plain package's version files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CPYTHON, GENERIC, DEMO = "cpython", "generic", "demo"
PROFILES = (CPYTHON, GENERIC, DEMO)
# Profiles whose version lives where CPython keeps it (patchlevel.h, README, docs `next`).
CPYTHON_RULES = (CPYTHON, DEMO)

CPYTHON_MARKERS = ("Include/patchlevel.h", "Lib", "Misc/NEWS.d")


def is_cpython_checkout(repo: Path) -> bool:
    """A CPython source tree: Include/patchlevel.h, Lib/ and Misc/NEWS.d/ (no generated file needed)."""
    repo = Path(repo)
    return ((repo / "Include" / "patchlevel.h").is_file() and (repo / "Lib").is_dir()
            and (repo / "Misc" / "NEWS.d").is_dir())


def detect_profile(repo: Path, configured: str | None = None) -> str:
    """The configured profile when there is one, else cpython for a CPython checkout, else generic."""
    if configured:
        return configured
    return CPYTHON if is_cpython_checkout(repo) else GENERIC


def uses_cpython_rules(profile: str) -> bool:
    return profile in CPYTHON_RULES


def generic_version_files(repo: Path, package: str | None,
                          version_files: Sequence[Any] = ()) -> list[Any]:
    """A plain package's version files: the configured ones, else pyproject.toml's project.version
    and `__version__` in the package's __init__.py, wherever the package lives (src/ or flat)."""
    from .source.generic import default_version_files

    if version_files:
        return list(version_files)
    src_layout = bool(package) and (Path(repo) / "src" / str(package).replace(".", "/")).is_dir()
    return default_version_files(package, src_layout=src_layout)


def plan_version_bump(repo: Path, version: str, *, profile: str, done: bool = False,
                      package: str | None = None, version_files: Sequence[Any] = (),
                      release_cycle: Mapping[str, Any] | None = None, docs: bool = True):
    """The version edits for `version` in this profile: an EditSet, planned, not written.

    CPython rules: patchlevel.h, README, docs `next` (and the new-main edits for X.Y.0a0); `done`
    adds the post-release suffix. A plain package: its version files get the PEP 440 version,
    with `+dev` when `done`.
    """
    from .source.bump import plan_release_bump
    from .source.edits import EditSet
    from .source.generic import plan_generic
    from .version import Version

    repo = Path(repo)
    if uses_cpython_rules(profile):
        return plan_release_bump(repo, Version.parse(version), done=done,
                                 release_cycle=dict(release_cycle) if release_cycle else None, docs=docs)
    edits = EditSet(repo)
    text = version
    if done:
        # CPython's "+" suffix (before 3.15) is not PEP 440; plain packages always get "+dev".
        text = str(Version.parse(version).pep440) + "+dev"
    plan_generic(edits, text, generic_version_files(repo, package, version_files))
    return edits
