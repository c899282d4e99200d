"""The downloads site: python.org's v1 downloads API, the download pages, the release files
under /ftp/python/ and an Atom feed.

API: `/api/v1/downloads/{os,release,release_file}/` with the Tastypie envelope, its filters,
`Authorization: ApiKey user:key` for writes (read-only without), 201 + Location on create, 204
on delete, validation errors as `{"downloads/<resource>": {field: [messages]}}`. Anonymous
readers never see unpublished releases (nor their files).
"""

from __future__ import annotations

import json
import mimetypes
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import VersionError
from ..publish.models import SIDECAR_FIELDS, OSPayload, ReleaseFilePayload, ReleasePayload, release_version_text, uri_pk
from ..version import Version
from .app import Site
from .cache import cached_response, etag_of
from .store import Conflict, DownloadsStore

API = "/api/v1/downloads/"
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000
LOOKUPS = ("exact", "startswith", "contains", "gt", "gte", "lt", "lte")
ALL = LOOKUPS
PAGING = {"limit", "offset", "format", "order_by"}


@dataclass(frozen=True)
class Resource:
    name: str                                   # URL segment and table name
    payload: type[BaseModel]
    fields: tuple[str, ...]                     # what the API shows
    filters: dict[str, tuple[str, ...]]         # field → allowed lookups
    relations: tuple[str, ...] = ()             # FK fields given as URIs (os, release)

    @property
    def error_key(self) -> str:
        return f"downloads/{self.name}"

    def uri(self, pk: int) -> str:
        return f"{API}{self.name}/{pk}/"


OS = Resource("os", OSPayload, ("name", "slug"), {"name": ("exact",), "slug": ("exact",)})
RELEASE = Resource("release", ReleasePayload,
                   ("name", "slug", "version", "is_published", "release_date", "pre_release", "release_page",
                    "release_notes_url", "show_on_download_page", "is_latest"),
                   {"name": ("exact",), "slug": ("exact",), "is_published": ("exact",), "pre_release": ("exact",),
                    "version": ("exact", "startswith"), "release_date": ALL})
RELEASE_FILE = Resource("release_file", ReleaseFilePayload,
                        ("name", "slug", "os", "release", "description", "is_source", "url", "gpg_signature_file",
                         "md5_sum", "sha256_sum", "filesize", "download_button", "sigstore_signature_file",
                         "sigstore_cert_file", "sigstore_bundle_file", "sbom_spdx2_file"),
                        {"name": ("exact",), "slug": ("exact",), "description": ("contains",),
                         "os": ("exact",), "release": ("exact",)},
                        relations=("os", "release"))
RESOURCES = {r.name: r for r in (OS, RELEASE, RELEASE_FILE)}
RELATED = {"os": (OS, ("name", "slug")), "release": (RELEASE, RELEASE.filters)}
BOOL_FIELDS = {"is_published", "pre_release", "is_latest", "show_on_download_page", "is_source", "download_button"}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(str(body))
        self.status = status
        self.body = body


def store_of(site: Site) -> DownloadsStore:
    store = site.services.get("downloads")
    if store is None:
        store = site.services["downloads"] = DownloadsStore(site.data_dir / "downloads.db")
    return store


def ftp_root(site: Site) -> Path:
    """Where the published files live (`<ftp root>/<X.Y.Z>/<file>`)."""
    return Path(site.options.get("ftp_root") or site.data_dir / "ftp")


# ---- serialization ---------------------------------------------------------------------------

def serialize(resource: Resource, row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in resource.fields:
        if name == "os":
            data["os"] = OS.uri(row["os_id"])
        elif name == "release":
            data["release"] = RELEASE.uri(row["release_id"])
        elif name == "release_page":
            data["release_page"] = None
        else:
            data[name] = row.get(name)
    data["resource_uri"] = resource.uri(row["id"])
    return data


def _validation_error(resource: Resource, error: ValidationError) -> ApiError:
    fields: dict[str, list[str]] = {}
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["loc"]:
            fields.setdefault(str(item["loc"][0]), []).append(message)
            continue
        for part in message.split("; "):   # model-level rules name their field first
            field = part.split(" ", 1)[0]
            fields.setdefault(field if field in resource.payload.model_fields else "__all__", []).append(part)
    return ApiError(400, {resource.error_key: fields})


def _to_row(site: Site, resource: Resource, payload: BaseModel) -> dict[str, Any]:
    values = payload.model_dump()
    if resource is RELEASE_FILE:
        store = store_of(site)
        for field, target in (("os", OS), ("release", RELEASE)):
            pk = uri_pk(values.pop(field))
            if pk is None or store.get(target.name, pk) is None:
                raise ApiError(400, {resource.error_key: {field: [f"no such {target.name}: {payload.model_dump()[field]}"]}})
            values[f"{field}_id"] = pk
    if resource is RELEASE and values.get("release_date") is not None:
        values["release_date"] = values["release_date"].astimezone(UTC).isoformat(timespec="seconds") \
            if values["release_date"].tzinfo else values["release_date"].isoformat(timespec="seconds")
    return values


# ---- filtering -------------------------------------------------------------------------------

def _parse_bool(text: str) -> int:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return 1
    if lowered in ("false", "0", "no"):
        return 0
    raise ValueError(text)


def _condition(column: str, lookup: str, value: Any) -> tuple[str, tuple]:
    if lookup == "exact":
        return f"{column} = ?", (value,)
    if lookup == "startswith":
        return f"CAST({column} AS TEXT) LIKE ? ESCAPE '\\'", (_like(str(value)) + "%",)
    if lookup == "contains":
        return f"CAST({column} AS TEXT) LIKE ? ESCAPE '\\'", ("%" + _like(str(value)) + "%",)
    op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[lookup]
    return f"{column} {op} ?", (value,)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def build_filters(resource: Resource, query: dict[str, str], anonymous: bool) -> tuple[str, tuple]:
    clauses: list[str] = []
    args: tuple = ()
    for key, value in query.items():
        if key in PAGING:
            continue
        field, _, rest = key.partition("__")
        if field not in resource.filters:
            raise ApiError(400, {"error": f"The '{field}' field does not allow filtering."})
        if field in resource.relations:
            target, allowed = RELATED[field]
            sub_field, _, sub_lookup = rest.partition("__")
            if sub_field in ("", "exact", "id", "pk"):
                pk = uri_pk(value)
                if pk is None:
                    raise ApiError(400, {"error": f"'{value}' is not a valid {field} (a pk or a resource URI)"})
                clauses.append(f"{field}_id = ?")
                args += (pk,)
                continue
            lookup = sub_lookup or "exact"
            if sub_field not in allowed or lookup not in LOOKUPS:
                raise ApiError(400, {"error": f"Lookup '{rest}' is not allowed on field '{field}'."})
            cond, cargs = _condition(sub_field, lookup, _coerce(sub_field, value))
            clauses.append(f"{field}_id IN (SELECT id FROM {target.name} WHERE {cond})")
            args += cargs
            continue
        lookup = rest or "exact"
        if lookup not in resource.filters[field]:
            raise ApiError(400, {"error": f"Lookup '{lookup}' is not allowed on field '{field}'."})
        cond, cargs = _condition(field, lookup, _coerce(field, value))
        clauses.append(cond)
        args += cargs
    if anonymous and resource is RELEASE:
        clauses.append("is_published = 1")
    if anonymous and resource is RELEASE_FILE:
        clauses.append("release_id IN (SELECT id FROM release WHERE is_published = 1)")
    return " AND ".join(clauses), args


def _coerce(field: str, value: str) -> Any:
    if field in BOOL_FIELDS:
        try:
            return _parse_bool(value)
        except ValueError:
            raise ApiError(400, {"error": f"'{value}' is not a boolean for '{field}'"}) from None
    return value


def _page(query: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
        offset = int(query.get("offset", 0))
    except ValueError:
        raise ApiError(400, {"error": "limit and offset must be integers"}) from None
    if limit < 0 or offset < 0:
        raise ApiError(400, {"error": "limit and offset must not be negative"})
    return (MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT)), offset


def _page_uri(request: Request, query: dict[str, str], limit: int, offset: int) -> str:
    return f"{request.url.path}?{urlencode({**query, 'limit': limit, 'offset': offset})}"


# ---- API endpoints ---------------------------------------------------------------------------

def _json_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status)


def _credentials_in_query(request: Request) -> bool:
    return "api_key" in request.query_params or "username" in request.query_params


MAX_BODY = 1 << 20  # 1 MiB: a release file's metadata is a few hundred bytes


async def _read_limited(request: Request, resource: Resource) -> bytes:
    """The request body, refusing more than MAX_BODY bytes (declared or sent) with 413."""
    too_big = ApiError(413, {resource.error_key: {"__all__": [f"the body is larger than {MAX_BODY} bytes"]}})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request, resource: Resource) -> dict[str, Any]:
    try:
        data = json.loads(await _read_limited(request, resource) or b"{}")
    except ValueError:
        raise ApiError(400, {resource.error_key: {"__all__": ["the body is not valid JSON"]}}) from None
    if not isinstance(data, dict):
        raise ApiError(400, {resource.error_key: {"__all__": ["the body must be a JSON object"]}})
    return data


def _visible(site: Site, resource: Resource, row: dict[str, Any], user: str | None) -> bool:
    if user is not None:
        return True
    if resource is RELEASE:
        return bool(row["is_published"])
    if resource is RELEASE_FILE:
        release = store_of(site).get("release", row["release_id"])
        return bool(release and release["is_published"])
    return True


def api_routes(site: Site) -> list[BaseRoute]:
    store = store_of(site)

    def unknown(request: Request) -> Response:
        return JSONResponse({"error": f"no such resource: {request.path_params['resource']!r}",
                             "resources": sorted(RESOURCES)}, status_code=404)

    async def listing(request: Request) -> Response:
        if request.path_params["resource"] not in RESOURCES:
            return unknown(request)
        resource = RESOURCES[request.path_params["resource"]]
        if _credentials_in_query(request):
            return JSONResponse({"error": "send credentials in the Authorization header"}, status_code=401)
        user = site.authenticate(request)
        try:
            if request.method == "GET":
                query = dict(request.query_params)
                where, args = build_filters(resource, query, anonymous=user is None)
                limit, offset = _page(query)
                total, rows = store.find(resource.name, where, args, limit=limit, offset=offset)
                meta = {"limit": limit, "offset": offset, "total_count": total,
                        "next": _page_uri(request, query, limit, offset + limit) if offset + limit < total else None,
                        "previous": _page_uri(request, query, limit, max(0, offset - limit)) if offset else None}
                return JSONResponse({"meta": meta, "objects": [serialize(resource, r) for r in rows]})
            if user is None:
                return JSONResponse({"error": "writes need Authorization: ApiKey user:key"}, status_code=401)
            if request.method == "POST":
                data = await _body(request, resource)
                try:
                    payload = resource.payload.model_validate(data)
                except ValidationError as error:
                    raise _validation_error(resource, error) from None
                try:
                    pk = store.insert(resource.name, _to_row(site, resource, payload))
                except Conflict as conflict:
                    raise ApiError(400, {resource.error_key: {conflict.field: [conflict.message]}}) from None
                row = store.get(resource.name, pk) or {}
                location = str(request.base_url).rstrip("/") + resource.uri(pk)
                return JSONResponse(serialize(resource, row), status_code=201, headers={"Location": location})
            # DELETE on the list: only release files, only for exactly one release.
            keys = set(request.query_params.keys())
            release_pk = uri_pk(request.query_params.get("release", ""))
            if resource is not RELEASE_FILE or keys != {"release"} or release_pk is None:
                return JSONResponse({"error": "DELETE on this list needs exactly one ?release=<pk>"},
                                    status_code=400 if resource is RELEASE_FILE else 405)
            store.delete_files_of(release_pk)
            return Response(status_code=204)
        except ApiError as error:
            return _json_error(error)

    async def detail(request: Request) -> Response:
        if request.path_params["resource"] not in RESOURCES:
            return unknown(request)
        resource = RESOURCES[request.path_params["resource"]]
        pk = int(request.path_params["pk"])
        if _credentials_in_query(request):
            return JSONResponse({"error": "send credentials in the Authorization header"}, status_code=401)
        user = site.authenticate(request)
        row = store.get(resource.name, pk)
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if not _visible(site, resource, row, user):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if request.method == "GET":
            return JSONResponse(serialize(resource, row))
        if user is None:
            return JSONResponse({"error": "writes need Authorization: ApiKey user:key"}, status_code=401)
        try:
            if request.method == "DELETE":
                store.delete(resource.name, pk)
                return Response(status_code=204)
            data = await _body(request, resource)
            if request.method == "PATCH":
                current = serialize(resource, row)
                if resource is RELEASE:
                    current["content"] = row.get("content", "")
                data = {**current, **data}
            try:
                payload = resource.payload.model_validate(data)
            except ValidationError as error:
                raise _validation_error(resource, error) from None
            store.update(resource.name, pk, _to_row(site, resource, payload))
            return JSONResponse(serialize(resource, store.get(resource.name, pk) or row))
        except Conflict as conflict:
            return _json_error(ApiError(400, {resource.error_key: {conflict.field: [conflict.message]}}))
        except ApiError as error:
            return _json_error(error)

    return [
        Route(API + "{resource:str}/", listing, methods=["GET", "POST", "DELETE"]),
        Route(API + "{resource:str}/{pk:int}/", detail, methods=["GET", "PUT", "PATCH", "DELETE"]),
    ]


# ---- pages -----------------------------------------------------------------------------------

def _version_of(release: dict[str, Any]) -> Version | None:
    text = release_version_text(release["name"])
    if text is None:
        return None
    try:
        return Version.parse(text)
    except VersionError:
        return None


def download_overview(releases: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """(latest final per X.Y series, newest first; pre-releases newer than their series' final)."""
    finals: dict[str, tuple[Version, dict]] = {}
    pres: dict[str, tuple[Version, dict]] = {}
    for release in releases:
        version = _version_of(release)
        if version is None or not release["show_on_download_page"]:
            continue
        bucket = pres if (version.is_prerelease or release["pre_release"]) else finals
        series = version.basic_version
        if series not in bucket or bucket[series][0] < version:
            bucket[series] = (version, {**release, "version_text": version.text, "series": series})
    latest = [r for _, r in sorted(finals.values(), key=lambda item: item[0], reverse=True)]
    upcoming = [r for v, r in sorted(pres.values(), key=lambda item: item[0], reverse=True)
                if r["series"] not in finals or finals[r["series"]][0] < v]
    return latest, upcoming


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def group_files(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for f in files:
        group = groups.setdefault(f["os_slug"], {"slug": f["os_slug"], "name": f["os_name"], "files": []})
        group["files"].append({**f, "size_text": human_size(f["filesize"]),
                               "signature": f["gpg_signature_file"] or f["sigstore_signature_file"]})
    ordered = sorted(groups.values(), key=lambda g: (g["slug"] != "source", g["name"].lower()))
    for group in ordered:
        group["files"].sort(key=lambda f: (not f["download_button"], f["name"]))
    return ordered


def page_routes(site: Site) -> list[BaseRoute]:
    store = store_of(site)
    # Anonymous page views are answered from bytes rendered at the store's current data
    # version; any write to the store (a registration, a publish) changes it. Readers with a
    # key see unpublished releases too, so their pages are rendered each time.
    # The hit is answered on the event loop (a look-up and the bytes); only a miss goes to a
    # worker thread to read the store and render. `cache: False` (the benchmark's peer)
    # renders every view.
    rendered: dict[tuple[str, str, str, str], tuple[int, bytes, str, int, str]] = {}
    use_cache = bool(site.options.get("cache", True))

    async def cached(request: Request, render: Callable[[], Response]) -> Response:
        if not use_cache or site.authenticate(request) is not None:
            return await run_in_threadpool(render)
        # (from the scope: building Starlette's URL objects was a sixth of a cached view's cost)
        scope = request.scope
        key = (scope["path"], scope.get("root_path", ""), scope["scheme"], request.headers.get("host", ""))
        version = store.data_version()
        hit = rendered.get(key)
        answered_from = "hit"
        if hit is None or hit[0] != version:
            answered_from = "miss"
            response = await run_in_threadpool(render)
            if len(rendered) > 512:
                rendered.clear()
            body = bytes(response.body)
            hit = rendered[key] = (version, body, etag_of(body), response.status_code, response.media_type or "")
        _, body, etag, status, media_type = hit
        if status != 200:
            return Response(body, status_code=status, media_type=media_type, headers={"X-Cache": answered_from})
        return cached_response(request, body, etag, media_type=media_type, headers={"X-Cache": answered_from})

    def visible_releases(request: Request) -> list[dict[str, Any]]:
        where = "" if site.authenticate(request) else "is_published = 1"
        return store.find("release", where, order="release_date DESC, id DESC")[1]

    async def index(request: Request) -> Response:
        return await cached(request, lambda: render_index(request))

    def render_index(request: Request) -> Response:
        latest, upcoming = download_overview(visible_releases(request))
        return site.render(request, "downloads/index.html", latest=latest, upcoming=upcoming)

    async def release_page(request: Request) -> Response:
        return await cached(request, lambda: render_release_page(request))

    def render_release_page(request: Request) -> Response:
        release = store.release_by_slug(request.path_params["slug"])
        if release is None or not (release["is_published"] or site.authenticate(request)):
            return site.render(request, "downloads/missing.html", status_code=404, slug=request.path_params["slug"])
        groups = group_files(store.files_of(release["id"]))
        version = _version_of(release)
        return site.render(request, "downloads/release.html", release=release, groups=groups,
                           folder=version.normalized if version else None)

    async def feed(request: Request) -> Response:
        return await cached(request, lambda: render_feed(request))

    def render_feed(request: Request) -> Response:
        releases = [r for r in store.find("release", "is_published = 1", order="release_date DESC, id DESC",
                                          limit=50)[1]]
        base = site.base_url.rstrip("/") or str(request.base_url).rstrip("/")
        updated = max((r["updated"] for r in releases), default=datetime.now(UTC).isoformat(timespec="seconds"))
        xml = site.templates.get_template("downloads/feed.xml").render(releases=releases, base=base, updated=updated)
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    return [
        Route("/downloads/", index),
        Route("/downloads/release/{slug:str}/", release_page),
        Route("/downloads/feed.atom", feed),
    ]


# ---- /ftp/python/ ------------------------------------------------------------------------------

CONTENT_TYPES = {".tgz": "application/gzip", ".gz": "application/gzip", ".xz": "application/x-xz",
                 ".bz2": "application/x-bzip2", ".zip": "application/zip", ".asc": "application/pgp-signature",
                 ".sig": "application/octet-stream", ".crt": "application/x-pem-file",
                 ".sigstore": "application/json", ".json": "application/json", ".epub": "application/epub+zip",
                 ".exe": "application/vnd.microsoft.portable-executable", ".pkg": "application/octet-stream",
                 ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


def content_type(name: str) -> str:
    if name == "SHA256SUMS":
        return "text/plain; charset=utf-8"
    suffix = os.path.splitext(name)[1].lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def safe_path(root: Path, relative: str) -> Path | None:
    """The file or folder `relative` names inside `root`, or None when it would leave the tree
    (`..`, absolute parts, backslashes, hidden or staging entries, symlinks pointing out)."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in (".", "..") or p.startswith(".") or "\\" in p or "\x00" in p
                                       for p in parts if p):
        return None
    if any(not p for p in parts[:-1]):
        return None
    try:
        real_root = root.resolve(strict=True)
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if target != real_root and real_root not in target.parents:
        return None
    return target


def ftp_routes(site: Site) -> list[BaseRoute]:
    def ftp(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        target = safe_path(ftp_root(site), relative)
        if target is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        if target.is_dir():
            if relative and not relative.endswith("/"):
                return RedirectResponse(request.url.path + "/", status_code=301)
            # Only what a request could fetch: no hidden entries, nothing that leads out of the tree
            # (a listing must not show even the size or date of a file elsewhere).
            entries = sorted((e for e in target.iterdir() if not e.name.startswith(".")
                              and safe_path(ftp_root(site), f"{relative.rstrip('/')}/{e.name}".lstrip("/")) is not None),
                             key=lambda e: e.name)
            rows = [{"name": e.name + ("/" if e.is_dir() else ""), "size": None if e.is_dir() else e.stat().st_size,
                     "mtime": datetime.fromtimestamp(e.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M")}
                    for e in entries]
            return site.render(request, "downloads/ftp_index.html", path="/ftp/python/" + relative, rows=rows)
        if not target.is_file():
            return Response("Not Found", status_code=404, media_type="text/plain")
        return FileResponse(target, media_type=content_type(target.name))

    return [Route("/ftp/python/", ftp), Route("/ftp/python/{path:path}", ftp)]


def routes(site: Site) -> list[BaseRoute]:
    return [*api_routes(site), *page_routes(site), *ftp_routes(site)]


__all__ = ["SIDECAR_FIELDS", "content_type", "download_overview", "ftp_root", "routes", "safe_path", "store_of"]
