"""`Include/patchlevel.h`: the constants block between `/*--start constants--*/` and `/*--end constants--*/`.

The block is rendered from the version alone, with the value column at 32 (0-based), the
space-aligned layout CPython has used since 3.7.0a3. Everything outside the markers is kept
byte for byte, including the file's line endings.
"""

from __future__ import annotations

from ..errors import UsageError
from ..version import Version
from .edits import EditSet, newline_of

PATCHLEVEL = "Include/patchlevel.h"
START_MARKER = "/*--start constants--*/"
END_MARKER = "/*--end constants--*/"
VALUE_COLUMN = 32


def version_string(version: Version, done: bool) -> str:
    """What `PY_VERSION` holds: the version text, plus the post-release suffix when `done`."""
    return version.text + (version.post_release_suffix if done else "")


def render_constants(version: Version, *, done: bool = False, newline: str = "\n") -> str:
    """The lines between the markers (without the markers), each ending with `newline`."""
    rows = [
        ("PY_MAJOR_VERSION", str(version.major)),
        ("PY_MINOR_VERSION", str(version.minor)),
        ("PY_MICRO_VERSION", str(version.micro)),
        ("PY_RELEASE_LEVEL", version.level_macro),
        ("PY_RELEASE_SERIAL", str(version.serial)),
    ]
    lines = [_define(name, value) for name, value in rows]
    lines += ["", "/* Version as a string */", _define("PY_VERSION", f'"{version_string(version, done)}"')]
    return "".join(line + newline for line in lines)


def _define(name: str, value: str) -> str:
    head = f"#define {name}"
    return head + " " * max(VALUE_COLUMN - len(head), 1) + value


def replace_constants(text: str, version: Version, *, done: bool = False, where: str = PATCHLEVEL) -> str:
    """`text` with its constants block re-rendered; UsageError naming `where` when a marker is missing."""
    lines = text.splitlines(keepends=True)
    stripped = [line.rstrip("\r\n").strip() for line in lines]
    missing = [marker for marker in (START_MARKER, END_MARKER) if marker not in stripped]
    if missing:
        raise UsageError(
            f"missing the {' and the '.join(repr(m) for m in missing)} marker line"
            f"{'s' if len(missing) > 1 else ''}",
            where=where,
            hint=f"the version constants must sit between the lines {START_MARKER} and {END_MARKER}")
    start = stripped.index(START_MARKER)
    end = stripped.index(END_MARKER, start + 1) if END_MARKER in stripped[start + 1:] else -1
    if end < 0:
        raise UsageError(f"the {END_MARKER!r} marker comes before {START_MARKER!r}", where=where,
                         hint="put the version constants between the start and the end marker")
    block = render_constants(version, done=done, newline=newline_of(text))
    return "".join(lines[: start + 1]) + block + "".join(lines[end:])


def plan_patchlevel(edits: EditSet, version: Version, *, done: bool = False) -> None:
    """Plan the constants-block rewrite of `Include/patchlevel.h` in `edits`."""
    text = edits.read(PATCHLEVEL)
    edits.write(PATCHLEVEL, replace_constants(text, version, done=done, where=str(edits.path(PATCHLEVEL))))


def read_patchlevel_version(text: str) -> str | None:
    """The `PY_VERSION` string in a patchlevel.h text, or None."""
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == "#define" and parts[1] == "PY_VERSION":
            return parts[2].strip().strip('"')
    return None
