"""Cached state for the web pages: rendered bytes kept until their source changes.

`JournalCache` opens the run journal (`<state dir>/relman.db`) read through the journal's own
public methods, and knows when it changed without reading it: SQLite's `PRAGMA data_version`
on a connection of its own changes whenever any other connection (the runner, another
terminal, this site's gate approvals) commits. Pages rendered from the journal are kept with
the version they were rendered at; a request costs one pragma and a dictionary look-up
until the journal changes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response

from ..engine.journal import Journal

JOURNAL_NAME = "relman.db"     # what release sessions write (ReleaseSession.db_path)
IDENTITY_CHECK_S = 0.5         # how often the journal file is checked for having been replaced


def isotime(ts: float | None) -> str:
    """A journal timestamp (seconds since the epoch) as ISO 8601 UTC, for <time datetime=…>."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def clock(ts: float | None) -> str:
    """The same instant, readable without JavaScript: 2026-11-30 05:41:07 UTC."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


def verdict_class(verdict: str | None) -> str:
    return {"Releasable": "releasable", "Concern": "concern", "Unreleasable": "unreleasable"}.get(verdict or "", "na")


def install_filters(env: Environment) -> None:
    env.filters.setdefault("isotime", isotime)
    env.filters.setdefault("clock", clock)
    env.filters.setdefault("seconds", seconds)
    env.filters.setdefault("vclass", verdict_class)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def cached_response(request: Request, body: bytes, etag: str, *, media_type: str = "text/html; charset=utf-8",
                    headers: dict[str, str] | None = None) -> Response:
    """The bytes, or 304 when the client already has them (the live regions' polling)."""
    all_headers = {"ETag": etag, "Cache-Control": "no-cache", **(headers or {})}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)


class JournalCache:
    """One state folder's journal, opened lazily, with rendered pages cached per journal version."""

    def __init__(self, state_dir: Path | Callable[[], Path | None] | None, *, cached: bool = True):
        self._state_dir = state_dir
        self.cached = cached
        self._journal: Journal | None = None
        self._probe: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._lock = threading.RLock()
        self._pages: dict[Any, tuple[tuple[int, int], bytes, str, dict[str, str]]] = {}
        self._identity_checked = 0.0       # when the journal file's identity was last looked at

    @property
    def path(self) -> Path | None:
        folder = self._state_dir() if callable(self._state_dir) else self._state_dir
        return Path(folder) / JOURNAL_NAME if folder else None

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
            if self._probe is not None:
                self._probe.close()
            self._journal = self._probe = None
            self._pages.clear()

    def version(self) -> tuple[int, int] | None:
        """(file identity, data_version): changes whenever anything commits to the journal.

        Every call asks SQLite (a commit shows at once); whether the file itself was replaced
        (a fresh demo in the same folder) is looked at no more than every IDENTITY_CHECK_S,
        since a stat per request was a tenth of a cached page's cost."""
        with self._lock:
            now = time.monotonic()
            if self._probe is None or now - self._identity_checked >= IDENTITY_CHECK_S:
                path = self.path
                if path is None:
                    return None
                try:
                    inode = path.stat().st_ino
                except FileNotFoundError:
                    self.close()
                    return None
                self._identity_checked = now
                if inode != self._inode:        # created, or replaced (a fresh demo): start over
                    self.close()
                    self._inode = inode
                if self._probe is None:
                    self._probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            (data_version,) = self._probe.execute("PRAGMA data_version").fetchone()
            return (self._inode or 0), data_version

    def journal(self) -> Journal | None:
        """The journal (read through its public methods; gate decisions written through it)."""
        if self.version() is None:
            return None
        with self._lock:
            if self._journal is None:
                self._journal = Journal(self.path)       # type: ignore[arg-type]
            return self._journal

    def page(self, key: Any, render: Callable[[Journal | None], tuple[bytes, dict[str, str]]]) -> tuple[bytes, str, dict[str, str]]:
        """`render(journal)` → (body, extra headers), cached until the journal changes."""
        with self._lock:
            version = self.version() or (0, 0)
            hit = self._pages.get(key)
            if self.cached and hit is not None and hit[0] == version:
                return hit[1], hit[2], hit[3]
            body, headers = render(self.journal())
            etag = etag_of(body)
            # What was rendered may already be older than `version` if a commit landed meanwhile;
            # the next request sees a newer version and renders again, so nothing stays stale.
            if self.cached:
                if len(self._pages) > 512:
                    self._pages.clear()
                self._pages[key] = (version, body, etag, headers)
            return body, etag, headers
