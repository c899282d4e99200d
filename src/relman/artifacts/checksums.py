"""SHA256SUMS in the coreutils format (`sha256sum -c SHA256SUMS` checks it).

Digests are passed in (the archive writers compute them while writing); `sha256_file` is for
files relman did not write itself (hand-offs, docs archives written by other tools)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import STORAGE_ERRNOS, CheckFailed, storage_error

_LINE = re.compile(r"^(?P<digest>[0-9a-f]{64}) (?P<mode>[ *])(?P<name>.+)$")


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size) of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


def sha256sums_text(digests: Mapping[str, str]) -> str:
    """`<digest>  <name>` lines sorted by name (text mode, as `sha256sum` writes them)."""
    lines = []
    for name in sorted(digests):
        if "\n" in name or "\\" in name or "/" in name:
            raise CheckFailed(f"cannot list {name!r} in SHA256SUMS: names must be plain file names")
        digest = digests[name].lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise CheckFailed(f"not a SHA-256 digest for {name}: {digest!r}")
        lines.append(f"{digest}  {name}\n")
    return "".join(lines)


def write_sha256sums(path: Path, digests: Mapping[str, str]) -> Path:
    """Write SHA256SUMS atomically; `digests` maps file name → hex SHA-256."""
    text = sha256sums_text(digests)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno in STORAGE_ERRNOS:
            raise storage_error(error, path) from None
        raise
    return path


def parse_sha256sums(text: str, *, where: str = "SHA256SUMS") -> dict[str, str]:
    """name → digest; CheckFailed naming the line for anything that is not a checksum line."""
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise CheckFailed(f"not a checksum line: {line[:80]!r}", where=f"{where}:{number}",
                              hint="each line is '<64 hex digits>  <file name>'")
        result[match["name"]] = match["digest"]
    return result
