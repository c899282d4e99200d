"""The downloads site's data: operating systems, releases and their files, in SQLite.

One file (`downloads.db` in the site's data folder), WAL mode, one short connection per
operation. The rules python.org's models enforce live here too: unique slugs and URLs, at most
one download button per OS per release (a partial unique index), and a release marked latest
demotes the others of its major version.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS os (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS release (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL DEFAULT 3,
    is_published INTEGER NOT NULL DEFAULT 0,
    is_latest INTEGER NOT NULL DEFAULT 0,
    pre_release INTEGER NOT NULL DEFAULT 0,
    show_on_download_page INTEGER NOT NULL DEFAULT 1,
    release_date TEXT,
    release_notes_url TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS release_file (
    id INTEGER PRIMARY KEY,
    os_id INTEGER NOT NULL REFERENCES os(id) ON DELETE RESTRICT,
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    is_source INTEGER NOT NULL DEFAULT 0,
    url TEXT NOT NULL UNIQUE,
    gpg_signature_file TEXT NOT NULL DEFAULT '',
    sigstore_signature_file TEXT NOT NULL DEFAULT '',
    sigstore_cert_file TEXT NOT NULL DEFAULT '',
    sigstore_bundle_file TEXT NOT NULL DEFAULT '',
    sbom_spdx2_file TEXT NOT NULL DEFAULT '',
    md5_sum TEXT NOT NULL DEFAULT '',
    sha256_sum TEXT NOT NULL DEFAULT '',
    filesize INTEGER NOT NULL DEFAULT 0,
    download_button INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS one_download_button_per_os
    ON release_file(release_id, os_id) WHERE download_button;
CREATE INDEX IF NOT EXISTS release_file_release ON release_file(release_id);
"""

TABLES = {"os": ("name", "slug"),
          "release": ("name", "slug", "version", "is_published", "is_latest", "pre_release",
                      "show_on_download_page", "release_date", "release_notes_url", "content"),
          "release_file": ("os_id", "release_id", "name", "slug", "description", "is_source", "url",
                           "gpg_signature_file", "sigstore_signature_file", "sigstore_cert_file",
                           "sigstore_bundle_file", "sbom_spdx2_file", "md5_sum", "sha256_sum", "filesize",
                           "download_button")}
BOOLEANS = {"is_published", "is_latest", "pre_release", "show_on_download_page", "is_source", "download_button"}


class Conflict(Exception):
    """A uniqueness rule refused the write: `field` says which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for key in BOOLEANS & data.keys():
        data[key] = bool(data[key])
    return data


class DownloadsStore:
    def __init__(self, path: Path):
        self._version_lock = threading.Lock()
        self._version_db: sqlite3.Connection | None = None
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (every write of this store
        uses a connection of its own): pages rendered from the store are valid while it holds."""
        with self._version_lock:
            if self._version_db is None:
                self._version_db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            return int(self._version_db.execute("PRAGMA data_version").fetchone()[0])

    # ---- reading -------------------------------------------------------------------------
    def get(self, table: str, pk: int) -> dict[str, Any] | None:
        with self.connect() as db:
            return _row(db.execute(f"SELECT * FROM {table} WHERE id = ?", (pk,)).fetchone())

    def find(self, table: str, where: str = "", args: tuple = (), order: str = "id",
             limit: int | None = None, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """(total count, rows) for a WHERE clause built by the caller from whitelisted fields."""
        clause = f" WHERE {where}" if where else ""
        with self.connect() as db:
            total = db.execute(f"SELECT COUNT(*) FROM {table}{clause}", args).fetchone()[0]
            sql = f"SELECT * FROM {table}{clause} ORDER BY {order}"
            page: tuple = ()
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                page = (limit, offset)
            rows = [_row(r) for r in db.execute(sql, args + page).fetchall()]
        return total, [r for r in rows if r is not None]

    def release_by_slug(self, slug: str) -> dict[str, Any] | None:
        with self.connect() as db:
            return _row(db.execute("SELECT * FROM release WHERE slug = ?", (slug,)).fetchone())

    def files_of(self, release_id: int) -> list[dict[str, Any]]:
        with self.connect() as db:
            rows = db.execute("SELECT f.*, o.name AS os_name, o.slug AS os_slug FROM release_file f "
                              "JOIN os o ON o.id = f.os_id WHERE f.release_id = ? ORDER BY o.name, f.id",
                              (release_id,)).fetchall()
        return [r for r in map(_row, rows) if r is not None]

    # ---- writing -------------------------------------------------------------------------
    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        columns = [c for c in TABLES[table] if c in values]
        extra = {"created": _now(), "updated": _now()} if table == "release" else {}
        names = columns + list(extra)
        params = [values[c] for c in columns] + list(extra.values())
        with self.connect() as db:
            try:
                cursor = db.execute(f"INSERT INTO {table} ({', '.join(names)}) "
                                    f"VALUES ({', '.join('?' * len(names))})", params)
            except sqlite3.IntegrityError as error:
                raise _conflict(table, error) from None
            pk = int(cursor.lastrowid or 0)
            if table == "release" and values.get("is_latest"):
                _demote_others(db, pk)
        return pk

    def update(self, table: str, pk: int, values: Mapping[str, Any]) -> None:
        columns = [c for c in TABLES[table] if c in values]
        assignments = [f"{c} = ?" for c in columns] + (["updated = ?"] if table == "release" else [])
        params = [values[c] for c in columns] + ([_now()] if table == "release" else [])
        if not assignments:
            return
        with self.connect() as db:
            try:
                db.execute(f"UPDATE {table} SET {', '.join(assignments)} WHERE id = ?", (*params, pk))
            except sqlite3.IntegrityError as error:
                raise _conflict(table, error) from None
            if table == "release" and values.get("is_latest"):
                _demote_others(db, pk)

    def delete(self, table: str, pk: int) -> bool:
        with self.connect() as db:
            try:
                return db.execute(f"DELETE FROM {table} WHERE id = ?", (pk,)).rowcount > 0
            except sqlite3.IntegrityError as error:
                raise _conflict(table, error) from None

    def delete_files_of(self, release_id: int) -> int:
        with self.connect() as db:
            return db.execute("DELETE FROM release_file WHERE release_id = ?", (release_id,)).rowcount


def _demote_others(db: sqlite3.Connection, pk: int) -> None:
    """python.org's Release.save: one latest release per major version."""
    db.execute("UPDATE release SET is_latest = 0 WHERE id != ? AND version = (SELECT version FROM release "
               "WHERE id = ?)", (pk, pk))


def _conflict(table: str, error: sqlite3.IntegrityError) -> Conflict:
    text = str(error)
    if "one_download_button_per_os" in text or "release_file.release_id, release_file.os_id" in text:
        return Conflict("download_button", "this release already has a file with the download button for this OS")
    if "FOREIGN KEY" in text:
        return Conflict("os" if table == "release_file" else "__all__",
                        "still referenced by release files" if table == "os" else "unknown os or release")
    field = text.rsplit(".", 1)[-1] if "UNIQUE" in text else "__all__"
    return Conflict(field, f"a {table.replace('_', ' ')} with this {field} already exists")
