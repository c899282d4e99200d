"""Where things are in a news directory (`Misc/NEWS.d`), and in which order blurb reads them.

    Misc/NEWS.d/
      3.14.0a1.rst … 3.14.0b2.rst      one file per released version
      next/<Section folder>/*.rst      fragments for the next release (+ a README.rst per folder)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .sections import SECTIONS, folders, section_of_folder

NEXT = "next"
README = "README.rst"
# Version files merge reads, as in blurb: only Python 2 and 3 versions.
_VERSION_PREFIXES = ("2.", "3.")


@dataclass(frozen=True, slots=True)
class FragmentFile:
    path: str  # a plain string: building 16,000 Path objects costs more than the whole parse
    section: str


def find_news_dir(start: Path | None = None) -> Path:
    """Find `Misc/NEWS.d` from `start` (default: the current directory) or any folder above it."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if folder.name == "NEWS.d" and folder.parent.name == "Misc":
            return folder
        candidate = folder / "Misc" / "NEWS.d"
        if candidate.is_dir():
            return candidate
    raise UsageError(f"no Misc/NEWS.d found in {here} or any folder above it",
                     hint="run inside a CPython-shaped checkout or pass --news-dir PATH")


def require_news_dir(news_dir: Path | str) -> Path:
    path = Path(news_dir)
    if not path.is_dir():
        raise UsageError(f"news directory {path} does not exist",
                         hint="pass the Misc/NEWS.d folder of the checkout with --news-dir")
    return path


def _rst_files(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return [e.name for e in it if e.name.endswith(".rst") and not e.name.startswith(".")
                    and e.name != README and e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_fragments(news_dir: Path) -> list[FragmentFile]:
    """Every fragment under `next/`, in blurb's order: sections in order, newest file name first.

    Fragments in unknown folders are not listed here; `stray_files` reports them.
    """
    next_dir = os.path.join(news_dir, NEXT)
    found: list[FragmentFile] = []
    for section in SECTIONS:
        names: list[tuple[str, str]] = []
        for folder in folders(section):
            base = os.path.join(next_dir, folder)
            names.extend((name, base) for name in _rst_files(base))
        names.sort(key=lambda item: item[0], reverse=True)
        found.extend(FragmentFile(f"{base}{os.sep}{name}", section) for name, base in names)
    return found


def stray_files(news_dir: Path) -> list[Path]:
    """Files under `next/` that blurb would silently skip: unknown folders, loose or non-.rst files."""
    next_dir = os.path.join(news_dir, NEXT)
    strays: list[str] = []
    try:
        top = list(os.scandir(next_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in top:
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if entry.name != README:
                strays.append(entry.path)
            continue
        known = section_of_folder(entry.name) is not None
        with os.scandir(entry.path) as inner:
            for sub in inner:
                if sub.name.startswith("."):
                    continue
                if sub.is_dir():
                    strays.extend(_visible_files(sub.path))
                elif not (known and sub.name.endswith(".rst")):
                    strays.append(sub.path)
    return [Path(path) for path in sorted(strays)]


def _visible_files(folder: str) -> list[str]:
    found: list[str] = []
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(base, f) for f in files if not f.startswith("."))
    return found


def version_names(news_dir: Path) -> list[str]:
    """Released versions with a file in `news_dir`, plus `next` if present, newest first."""
    names = []
    with os.scandir(news_dir) as it:
        for entry in it:
            name = entry.name
            if name.startswith(_VERSION_PREFIXES) and name.endswith(".rst") and entry.is_file():
                names.append(name[:-4])
            elif name == NEXT:
                names.append(NEXT)
    names.sort()
    names.sort(key=version_sort_key, reverse=True)
    return names


def version_sort_key(name: str) -> str:
    """blurb's ordering key: `next` first, then by number, with a < b < rc < final."""
    fields = name.split(".")
    if len(fields) == 1:
        return name
    last = fields[-1]
    stage, serial = "zz", "0"
    for marker in ("a", "b", "rc"):
        if marker in last:
            last, stage, serial = last.partition(marker)
            break
    numbers = [*fields[:-1], last]
    numbers += ["0"] * (3 - len(numbers))
    return ".".join(part.rjust(6, "0") for part in [*numbers, stage, serial])


def printable_version(name: str) -> str:
    """`3.14.0b2` → `3.14.0 beta 2`, `3.14.0` → `3.14.0 final`, `next` stays `next`."""
    if name == NEXT:
        return name
    for marker, words in (("a", " alpha "), ("b", " beta "), ("rc", " release candidate ")):
        if marker in name:
            return name.replace(marker, words)
    return name + " final"
