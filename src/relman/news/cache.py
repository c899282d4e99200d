"""A cache of rendered released versions, keyed by content.

A released version file (`Misc/NEWS.d/3.14.0b2.rst`) never changes once written, and it is
most of what `merge` renders: 22 released versions hold about 11,000 of a 16,000-entry tree.
So the Misc/NEWS text of each version file is kept, keyed by the SHA-256 of

* the file's bytes and name,
* the renderer itself (the source of every module of this package, so any change to the
  rules invalidates every entry), and
* any setting that changes the rendering (passed in as `variant`, e.g. the section order).

A cached block is stored with its own SHA-256 and checked on read: a torn or corrupted entry is
a miss, never wrong output. Only blocks rendered without a problem are stored. The cache lives
in `$RELMAN_CACHE_DIR/news`, else `$XDG_CACHE_HOME/relman/news`, else `~/.cache/relman/news`;
`RELMAN_NEWS_CACHE=0` turns it off. Any error reading or writing it (a read-only home, a full
disk) turns it into a miss: the cache can make merge faster, never make it fail.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_code_stamp: bytes | None = None


def _renderer_stamp() -> bytes:
    """The digest of this package's source: the rules that produced a cached block."""
    global _code_stamp
    if _code_stamp is None:
        digest = hashlib.sha256()
        for path in sorted(_PACKAGE.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _code_stamp = digest.digest()
    return _code_stamp


def cache_dir() -> Path | None:
    """Where the cache lives, or None when it is turned off."""
    if os.environ.get("RELMAN_NEWS_CACHE", "").strip() in ("0", "no", "off", "false"):
        return None
    base = os.environ.get("RELMAN_CACHE_DIR")
    if base:
        return Path(base) / "news"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "relman" / "news"


class VersionCache:
    """Rendered version blocks by content key; every failure is a miss."""

    def __init__(self, root: Path | None, variant: str = ""):
        self.root = root
        self.variant = variant.encode()
        self.hits = 0
        self.misses = 0

    def key(self, name: str, data: bytes) -> str:
        digest = hashlib.sha256(_renderer_stamp())
        digest.update(self.variant + b"\0" + name.encode() + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def has(self, key: str) -> bool:
        """Whether a block is stored under `key` (not whether it is intact: `get` checks that);
        when not, that is a miss."""
        if self.root is not None and os.path.isfile(self.root / key[:2] / key):
            return True
        self.misses += 1
        return False

    def get(self, key: str) -> str | None:
        if self.root is None:
            return None
        try:
            stored = (self.root / key[:2] / key).read_bytes()
        except OSError:
            self.misses += 1
            return None
        check, newline, block = stored.partition(b"\n")
        if not newline or hashlib.sha256(block).hexdigest().encode() != check:
            self.misses += 1
            return None
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            self.misses += 1
            return None
        self.hits += 1
        return text

    def put(self, key: str, block: str) -> None:
        if self.root is None:
            return
        data = block.encode("utf-8")
        folder = self.root / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # (A unique name without tempfile: `relman news merge` stays light to import.)
            tmp = folder / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
                os.replace(tmp, folder / key)  # atomic: a reader sees the old entry or the new one
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only or full cache only costs speed
