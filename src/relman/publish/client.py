"""A client for python.org's v1 downloads API (and relman's own site, which speaks it).

Writes carry `Authorization: ApiKey user:key`. Every request is retried with backoff on
network errors, 5xx and 429; other errors stop at once with the server's message. A release's
files are registered **by diff** (`register_files`): rows that stay are never deleted, new ones
are added before old ones go, so the list is never empty or partial-then-empty, and a run that
fails half-way is finished by running it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import ExternalServiceError, TransientError, retry_delay
from .models import ReleaseFilePayload, ReleasePayload, uri_pk

API_PREFIX = "/api/v1/downloads/"
OS_NAMES = {"source": "Source release", "windows": "Windows", "macos": "macOS", "android": "Android",
            "ios": "iOS", "docs": "Documentation"}


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        return retry_delay(attempt, self.first_s, self.factor, self.max_s)


@dataclass
class RegistrationResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted,
                "unchanged": self.unchanged}


class RegistrationFailed(ExternalServiceError):
    """Registration stopped half-way; the site's list holds no less than before. Run again."""


class DownloadsClient:
    def __init__(self, site_url: str, api_key: str | None = None, *, http: httpx.Client | None = None,
                 backoff: Backoff = Backoff(), sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0):
        self.base = site_url.rstrip("/")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"ApiKey {api_key}"
        self.http = http or httpx.Client(timeout=timeout)
        self.headers = headers
        self.backoff = backoff
        self.sleep = sleep
        self._os: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    # ---- transport -----------------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                expect: tuple[int, ...] = (200,)) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        last = ""
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                response = self.http.request(method, url, json=json, params=params, headers=self.headers)
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code in expect:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    raise ExternalServiceError(f"{method} {url} answered {response.status_code}: "
                                               f"{_error_text(response)}", hint=_hint(response.status_code))
                last = f"HTTP {response.status_code}: {_error_text(response)}"
            if attempt < self.backoff.attempts:
                self.sleep(self.backoff.delay(attempt))
        raise TransientError(f"{method} {url} failed {self.backoff.attempts} times; last: {last}",
                             hint="the downloads site may be down; run again to continue")

    def objects(self, resource: str, **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] | None = {**filters, "limit": 0}
        path: str | None = API_PREFIX + resource + "/"
        while path:
            body = self.request("GET", path, params=params).json()
            found.extend(body["objects"])
            path, params = body["meta"].get("next"), None
        return found

    # ---- objects -------------------------------------------------------------------------
    def os_uri(self, slug: str) -> str:
        """The OS row for a slug (created when the site lacks it)."""
        if slug not in self._os:
            rows = self.objects("os", slug=slug)
            if rows:
                self._os[slug] = rows[0]["resource_uri"]
            else:
                response = self.request("POST", API_PREFIX + "os/", expect=(201,),
                                        json={"name": OS_NAMES.get(slug, slug.title()), "slug": slug})
                self._os[slug] = _location_uri(response)
        return self._os[slug]

    def find_release(self, slug: str) -> dict[str, Any] | None:
        rows = self.objects("release", slug=slug)
        return rows[0] if rows else None

    def ensure_release(self, payload: ReleasePayload) -> dict[str, Any]:
        """Create the release (unpublished) or bring its descriptive fields up to date.
        Never changes `is_published`: that is `set_published`'s decision."""
        current = self.find_release(payload.slug)
        data = payload.model_dump(mode="json", exclude={"is_published", "is_latest", "release_date"})
        if current is None:
            body = {**data, "is_published": False,
                    "release_date": payload.release_date.isoformat() if payload.release_date else None}
            response = self.request("POST", API_PREFIX + "release/", json=body, expect=(201,))
            return self.request("GET", _location_uri(response)).json()
        changed = {k: v for k, v in data.items() if k in current and current[k] != v}
        if changed:
            self.request("PATCH", current["resource_uri"], json=changed)
            return self.request("GET", current["resource_uri"]).json()
        return current

    def set_published(self, release_uri: str, *, published: bool = True, latest: bool = False,
                      release_date: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"is_published": published}
        if latest:
            body["is_latest"] = True
        if release_date:
            body["release_date"] = release_date
        return self.request("PATCH", release_uri, json=body).json()

    def files(self, release_uri: str) -> list[dict[str, Any]]:
        return self.objects("release_file", release=uri_pk(release_uri))

    # ---- registration by diff ------------------------------------------------------------
    def register_files(self, release_uri: str, desired: Iterable[ReleaseFilePayload],
                       on_change: Callable[[str, str], None] = lambda action, slug: None) -> RegistrationResult:
        """Make the release's files exactly `desired`, in an order that never removes a file
        that stays: clear buttons that move, add new rows, update changed ones, then delete the
        rows that go. Safe to run again after any failure."""
        desired = list(desired)
        wanted = {p.slug: p for p in desired}
        if len(wanted) != len(desired):
            raise ExternalServiceError("two files of this release share a slug; fix the artifact manifest")
        existing = {row["slug"]: row for row in self.files(release_uri)}
        result = RegistrationResult()
        todo_update = {s: p for s, p in wanted.items() if s in existing and _differs(existing[s], p)}
        todo_create = {s: p for s, p in wanted.items() if s not in existing}
        todo_delete = {s: row for s, row in existing.items() if s not in wanted}
        result.unchanged = sorted(s for s in wanted if s in existing and s not in todo_update)
        done: list[str] = []
        try:
            # 1. a download button that moves (or goes) is released first: at most one per OS.
            for slug, row in existing.items():
                keeps = slug in wanted and wanted[slug].download_button
                if row["download_button"] and not keeps:
                    self.request("PATCH", row["resource_uri"], json={"download_button": False})
            # 2. new rows (their url must not collide with a row that is about to go).
            for slug, payload in todo_create.items():
                clash = next((row for row in todo_delete.values() if row["url"] == payload.url), None)
                if clash is not None:
                    self.request("DELETE", clash["resource_uri"], expect=(204, 404))
                    todo_delete.pop(clash["slug"])
                    result.deleted.append(clash["slug"])
                self.request("POST", API_PREFIX + "release_file/", json=payload.model_dump(), expect=(201,))
                result.created.append(slug)
                done.append(f"created {slug}")
                on_change("created", slug)
            # 3. changed rows.
            for slug, payload in todo_update.items():
                self.request("PUT", existing[slug]["resource_uri"], json=payload.model_dump())
                result.updated.append(slug)
                done.append(f"updated {slug}")
                on_change("updated", slug)
            # 4. rows no longer wanted.
            for slug, row in todo_delete.items():
                self.request("DELETE", row["resource_uri"], expect=(204, 404))
                result.deleted.append(slug)
                done.append(f"deleted {slug}")
                on_change("deleted", slug)
        except (TransientError, ExternalServiceError) as error:
            remaining = (len(todo_create) + len(todo_update) + len(todo_delete)) - len(done)
            raise RegistrationFailed(
                f"file registration stopped after {len(done)} change(s) with {remaining} to go: {error.message}",
                hint="no file that stays was removed; run again to finish the registration") from None
        return result


def _differs(row: dict[str, Any], payload: ReleaseFilePayload) -> bool:
    for key, value in payload.model_dump().items():
        if key in ("os", "release"):
            if uri_pk(row[key]) != uri_pk(value):
                return True
        elif row.get(key) != value:
            return True
    return False


def _location_uri(response: httpx.Response) -> str:
    location = response.headers.get("location", "")
    if not location:
        raise ExternalServiceError(f"{response.request.method} {response.request.url} returned 201 without Location")
    return location


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body)[:500]


def _hint(status: int) -> str | None:
    if status in (401, 403):
        return "check the API key (Authorization: ApiKey user:key) named by [publish] api_key_env"
    if status == 400:
        return "the site refused the data; the message above says which field"
    return None


__all__ = ["OS_NAMES", "Backoff", "DownloadsClient", "RegistrationFailed", "RegistrationResult"]
