"""`.. versionadded:: next` and friends: replace the placeholder `next` with the release's doc version.

CPython documents unreleased changes as `.. versionadded:: next`; at release time `next` becomes
`Version.doc_version` (`3.15` for any 3.15.0 pre-release or final, `3.14.3` for a bugfix).

A line is rewritten when, after optional indentation, it is `..`, at least one space, one of
`DIRECTIVES`, optional spaces, `::`, optional spaces and then the word `next` (followed by a
space or the end of the line). Only that first argument is replaced: in
`.. deprecated-removed:: next 3.17` the removal version stays. Lower-case only; `..versionadded::`,
`... versionadded::`, text before the `..` and a single colon are left alone.

Speed: files are read as bytes and skipped unless they contain `:: next` somewhere (almost all
are); only files that change are written, atomically.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from .edits import EditSet

DIRECTIVES = ("versionadded", "versionchanged", "versionremoved", "deprecated", "deprecated-removed")

_DIRECTIVE_RE = re.compile(
    r"^(?P<before>[ \t]*\.\.[ \t]+(?:" + "|".join(re.escape(d) for d in DIRECTIVES) + r")[ \t]*::[ \t]*)"
    r"next(?=[ \t\r]|$)",
    re.MULTILINE,
)
_QUICK = re.compile(rb"::[ \t]*next")

# Directories never searched: VCS data and the docs build's own output and virtualenv.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})
SKIP_DOC_SUBDIRS = ("Doc/build", "Doc/venv", "Doc/.venv")


def replace_next(text: str, doc_version: str) -> tuple[str, int]:
    """`text` with every directive's `next` replaced by `doc_version`, and how many were."""
    return _DIRECTIVE_RE.subn(lambda m: m["before"] + doc_version, text)


def iter_rst_files(repo: Path, roots: Iterable[str] = ("Doc",)) -> Iterator[Path]:
    """Every `*.rst` under `repo/<root>` for each root, skipping VCS and build directories."""
    repo = Path(repo)
    skip_abs = {os.path.normpath(repo / rel) for rel in SKIP_DOC_SUBDIRS}
    for root in roots:
        top = repo / root
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames
                                 if d not in SKIP_DIRS and os.path.normpath(os.path.join(dirpath, d)) not in skip_abs)
            for name in sorted(filenames):
                if name.endswith(".rst"):
                    yield Path(dirpath, name)


def plan_doc_next(edits: EditSet, doc_version: str, *, roots: Iterable[str] = ("Doc",)) -> int:
    """Plan the `next` replacement in `edits`; return how many directives change."""
    total = 0
    for path in iter_rst_files(edits.root, roots):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if not _QUICK.search(data):
            continue
        rel = path.relative_to(edits.root).as_posix()
        new, count = replace_next(edits.read(rel), doc_version)
        if count:
            edits.write(rel, new)
            total += count
    return total
