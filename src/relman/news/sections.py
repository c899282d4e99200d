"""The 17 news sections of blurb 2.3.0, in output order, and their folder names under `next/`.

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

SECURITY = "Security"

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


def section_of_folder(folder: str) -> str | None:
    """The section a folder under `next/` belongs to, or None for an unknown folder."""
    name = _SECTION_OF_FOLDER.get(folder, folder)
    if name in SECTION_INDEX:
        return name
    for section in SECTIONS:  # legacy spellings (`C API`, `Tools-Demos`, `Unsupported platforms`)
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
