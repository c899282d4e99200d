"""The news sections, in output order, per blurb version, and their folder names under `next/`.

blurb 2.3.0 has 17 sections (`SECTIONS`); every earlier blurb (1.x to 2.2.0) had 11, without
the platform sections iOS to Unsupported platforms (`LEGACY_SECTIONS`). `sections_for` picks
the list for the blurb version a project uses (`news.blurb_version` in relman.toml): release
and merge write `next/` in that order, and fragments in a folder that version does not know
are reported as never merged, as that blurb would skip them.

A section's folder is its name with a few characters made path-friendly (`C API` → `C_API`).
Older checkouts used a "legacy" spelling that keeps spaces and only turns `/` into `-`; both
spellings are read, new fragments are always written to the modern one.
"""

from __future__ import annotations

SECTIONS: tuple[str, ...] = (
    "Security",
    "Core and Builtins",
    "Library",
    "Documentation",
    "Tests",
    "Build",
    "Windows",
    "macOS",
    "iOS",
    "Android",
    "FreeBSD",
    "WASI",
    "Emscripten",
    "Unsupported platforms",
    "IDLE",
    "Tools/Demos",
    "C API",
)

# The platform sections blurb 2.3.0 added; 1.0.7 to 2.2.0 had the others, in the same order.
ADDED_IN_2_3: tuple[str, ...] = ("iOS", "Android", "FreeBSD", "WASI", "Emscripten", "Unsupported platforms")
LEGACY_SECTIONS: tuple[str, ...] = tuple(s for s in SECTIONS if s not in ADDED_IN_2_3)

DEFAULT_BLURB_VERSION = "2.3.0"
SECURITY = "Security"


def sections_for(blurb_version: str | None = None) -> tuple[str, ...]:
    """The sections, in order, of a blurb version ("2.3.0" and later: 17; earlier: 11)."""
    if not blurb_version:
        return SECTIONS
    parts = []
    for piece in str(blurb_version).strip().split(".")[:3]:
        if not piece.isdigit():
            raise ValueError(f"blurb version {blurb_version!r} is not X.Y or X.Y.Z (for example 2.3.0)")
        parts.append(int(piece))
    if len(parts) < 2:
        raise ValueError(f"blurb version {blurb_version!r} is not X.Y or X.Y.Z (for example 2.3.0)")
    return SECTIONS if tuple(parts) >= (2, 3) else LEGACY_SECTIONS

_FOLDER = {
    "C API": "C_API",
    "Core and Builtins": "Core_and_Builtins",
    "Tools/Demos": "Tools-Demos",
    "Unsupported platforms": "Unsupported_platforms",
}
_SECTION_OF_FOLDER = {folder: name for name, folder in _FOLDER.items()}

SECTION_INDEX = {name: i for i, name in enumerate(SECTIONS)}


def folder_name(section: str) -> str:
    """The folder under `next/` that new fragments of `section` go to."""
    return _FOLDER.get(section, section)


def legacy_folder_name(section: str) -> str:
    """The older spelling of the folder (spaces kept), still read."""
    return section.replace("/", "-")


def folders(section: str) -> tuple[str, ...]:
    """Every folder name read for `section`: the modern one first, then the legacy one if different."""
    modern, legacy = folder_name(section), legacy_folder_name(section)
    return (modern,) if modern == legacy else (modern, legacy)


def section_of_folder(folder: str, sections: tuple[str, ...] = SECTIONS) -> str | None:
    """The section a folder under `next/` belongs to, or None for an unknown folder."""
    name = _SECTION_OF_FOLDER.get(folder, folder)
    if name in SECTION_INDEX:
        return name if sections is SECTIONS or name in sections else None
    for section in sections:  # legacy spellings (`C API`, `Tools-Demos`, `Unsupported platforms`)
        if legacy_folder_name(section) == folder:
            return section
    return None


def resolve_section(text: str) -> str:
    """Accept a section the way people type it: exact, any case, `_` for spaces, or a folder name.

    Raises ValueError listing the valid names when nothing (or more than one thing) matches.
    """
    wanted = text.strip()
    if not wanted:
        raise ValueError("empty section name")
    if wanted in SECTION_INDEX:
        return wanted
    found = section_of_folder(wanted)
    if found:
        return found
    key = wanted.lower().replace("_", " ").replace("-", "/")
    matches = [s for s in SECTIONS if s.lower() == key]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"unknown section {text!r}; use one of: {', '.join(SECTIONS)}")
