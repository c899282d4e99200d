"""Planned file edits: read through an overlay, show a diff, then write every file atomically.

Every source-edit function in this package works on an `EditSet` instead of touching files
directly. That gives three things for free:

- a dry run is "plan, then `diff()`, then do not `apply()`";
- several edits to the same file (or a file created by one rule and edited by another) compose,
  because reads see earlier planned writes;
- `apply()` writes only files whose text changed, each through a temporary file in the same
  directory and `os.replace`, keeping the original file mode, so a crash never leaves a
  half-written `patchlevel.h`.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError


@dataclass
class Note:
    """Something the user should know about a planned edit: a skipped file, a rule with no match."""

    path: str  # relative to the repository
    message: str
    kind: str = "info"  # "skipped", "no-match", "info", "follow-up"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "kind": self.kind}

    def __str__(self) -> str:
        """A sentence for people (logs, the demo): "follow-up: Doc/whatsnew/3.16.rst: …"."""
        return (f"{self.kind}: " if self.kind != "info" else "") + f"{self.path}: {self.message}"


@dataclass
class EditSet:
    """Pending edits to files under `root`. Paths given to `read`/`write` are relative to it."""

    root: Path
    _original: dict[str, str | None] = field(default_factory=dict)
    _current: dict[str, str] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # ---- reading and planning ----------------------------------------------------------
    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        rel = _norm(rel)
        if rel in self._current:
            return True
        return self.path(rel).is_file()

    def read(self, rel: str) -> str:
        """The file's text as planned so far; a UsageError naming the file when it is missing."""
        rel = _norm(rel)
        if rel in self._current:
            return self._current[rel]
        return self._load(rel)

    def _load(self, rel: str) -> str:
        path = self.path(rel)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"{rel} does not exist", where=str(path),
                             hint="is --repo the root of the checkout?") from None
        except IsADirectoryError:
            raise UsageError(f"{rel} is a directory, expected a file", where=str(path)) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UsageError(f"{rel} is not UTF-8 text (byte {error.start})", where=str(path)) from None
        self._original.setdefault(rel, text)
        return text

    def write(self, rel: str, text: str) -> None:
        rel = _norm(rel)
        if rel not in self._original:
            self._original[rel] = self._load(rel) if self.path(rel).is_file() else None
        self._current[rel] = text

    def note(self, rel: str, message: str, kind: str = "info") -> None:
        self.notes.append(Note(_norm(rel), message, kind))

    # ---- results -----------------------------------------------------------------------
    def changed(self) -> list[str]:
        """Relative paths whose planned text differs from the file on disk, sorted."""
        return sorted(rel for rel, text in self._current.items() if self._original.get(rel) != text)

    def changed_paths(self) -> list[Path]:
        return [self.path(rel) for rel in self.changed()]

    def created(self) -> list[str]:
        return [rel for rel in self.changed() if self._original.get(rel) is None]

    def diff(self) -> str:
        """A unified diff (`a/`, `b/` prefixes, like git) of every planned change."""
        chunks: list[str] = []
        for rel in self.changed():
            before = self._original.get(rel)
            after = self._current[rel]
            for line in difflib.unified_diff(
                    (before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                    fromfile="/dev/null" if before is None else f"a/{rel}", tofile=f"b/{rel}"):
                chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(chunks)

    def apply(self, *, fsync: bool = False) -> list[Path]:
        """Write every changed file atomically; return their absolute paths.

        Each file is replaced whole (temp file + `os.replace`), so a killed process leaves the
        old or the new text, never a mix. `fsync=True` also survives power loss, at a cost of
        milliseconds per file; the release commits the files right after, so it is off by default.
        """
        changed = self.changed()
        for rel in changed:
            write_atomic(self.path(rel), self._current[rel], fsync=fsync)
        for rel in changed:
            self._original[rel] = self._current[rel]
        return [self.path(rel) for rel in changed]


def write_atomic(path: Path, text: str, *, fsync: bool = False) -> None:
    """Write `text` (UTF-8, newlines as given) to `path` through a temp file and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".relman-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def newline_of(text: str) -> str:
    """The line ending a file uses (CRLF when its first line ends so), to keep it on rewrite."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _norm(rel: str) -> str:
    return Path(rel).as_posix()
