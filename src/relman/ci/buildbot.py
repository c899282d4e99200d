"""An async client for Buildbot's REST API (v2), the CI CPython runs on.

What the readiness verdict and the Buildbot executor need, and nothing more:

- builders, looked up by *name* (builder ids differ from one master to the next);
- completed builds of a builder, newest first, with `field=` projections so the master
  encodes only what is used (it spends most of a request encoding JSON in pure Python);
- workers and which builders they serve, and whether they are connected;
- the changes of a build;
- forcing a build (JSON-RPC) and following it to completion.

Requests run concurrently up to a bound (a master slows down when flooded: its threads
contend), each with a timeout, and transient failures (connection errors, timeouts, HTTP 5xx)
are retried with exponential backoff. Everything else — HTTP errors, malformed or truncated
JSON, answers of the wrong shape — becomes an `ExternalServiceError` naming the URL.

    async with BuildbotClient("http://127.0.0.1:8010/") as bb:
        builders = await bb.builders()
        latest = await bb.builds(builders[0].builderid, limit=1)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import ExternalServiceError, StepTimeout

# buildbot.process.results
SUCCESS, WARNINGS, FAILURE, SKIPPED, EXCEPTION, RETRY, CANCELLED = range(7)
RESULT_NAMES = {SUCCESS: "success", WARNINGS: "warnings", FAILURE: "failure", SKIPPED: "skipped",
                EXCEPTION: "exception", RETRY: "retry", CANCELLED: "cancelled"}

# The build fields a verdict uses; asking for fewer makes the master answer faster.
BUILD_FIELDS = ("buildid", "builderid", "number", "results", "complete", "started_at", "complete_at",
                "state_string")


def result_name(results: int | None) -> str:
    if results is None:
        return "running"
    return RESULT_NAMES.get(results, f"results={results}")


@dataclass(frozen=True)
class Builder:
    builderid: int
    name: str
    tags: tuple[str, ...] = ()
    description: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Builder:
        return cls(int(data["builderid"]), str(data["name"]), tuple(data.get("tags") or ()),
                   data.get("description"))


@dataclass(frozen=True)
class Build:
    buildid: int
    builderid: int
    number: int
    results: int | None
    complete: bool = True
    started_at: float | None = None
    complete_at: float | None = None
    state_string: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Build:
        props = data.get("properties") or {}
        return cls(
            buildid=int(data.get("buildid", 0)),
            builderid=int(data.get("builderid", 0)),
            number=int(data["number"]),
            results=data.get("results"),
            complete=bool(data.get("complete", data.get("complete_at") is not None)),
            started_at=data.get("started_at"),
            complete_at=data.get("complete_at"),
            state_string=data.get("state_string") or "",
            # properties come as {name: [value, source]}
            properties={k: (v[0] if isinstance(v, list) and len(v) == 2 else v) for k, v in props.items()},
        )

    @property
    def result_name(self) -> str:
        return result_name(self.results)


@dataclass(frozen=True)
class Worker:
    workerid: int
    name: str
    connected: bool
    builderids: frozenset[int] = frozenset()
    paused: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Worker:
        return cls(int(data["workerid"]), str(data["name"]), bool(data.get("connected_to")),
                   frozenset(int(c["builderid"]) for c in data.get("configured_on") or ()),
                   bool(data.get("paused")))


@dataclass(frozen=True)
class Change:
    changeid: int
    author: str
    revision: str | None
    branch: str | None
    comments: str
    revlink: str | None
    when_timestamp: float | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Change:
        return cls(int(data["changeid"]), data.get("author") or "", data.get("revision"), data.get("branch"),
                   data.get("comments") or "", data.get("revlink"), data.get("when_timestamp"))


def api_root(url: str) -> str:
    """`http://host/all/`, `http://host/all/api/v2`, … → `http://host/all` (the master's web root)."""
    root = url.strip().rstrip("/")
    for suffix in ("/api/v2", "/api"):
        root = root.removesuffix(suffix)
    if not root.startswith(("http://", "https://")):
        from ..errors import UsageError
        raise UsageError(f"not a Buildbot URL: {url!r}", hint="give the master's web address, e.g. http://127.0.0.1:8010/")
    return root


class BuildbotClient:
    """Async Buildbot REST client. Use as `async with BuildbotClient(url) as bb: ...`."""

    def __init__(self, url: str, *, concurrency: int = 8, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 0.25, transport: httpx.AsyncBaseTransport | None = None):
        self.root = api_root(url)
        self.api = self.root + "/api/v2"
        self.retries = retries
        self.backoff = backoff
        self._timeout = timeout
        self._limit = asyncio.Semaphore(concurrency)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.requests_made = 0
        self._extra_headers: dict[str, str] | None = None

    async def __aenter__(self) -> BuildbotClient:
        self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport,
                                         headers={"Accept": "application/json"},
                                         limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- links for people ---------------------------------------------------------------
    def build_url(self, builderid: int, number: int) -> str:
        return f"{self.root}/#/builders/{builderid}/builds/{number}"

    def builder_url(self, builderid: int) -> str:
        return f"{self.root}/#/builders/{builderid}"

    # ---- the transport: bounded, timed, retried, validated --------------------------------
    async def get(self, path: str, params: Sequence[tuple[str, str | int]] = (), *, key: str | None = None) -> Any:
        """GET `path` (relative to /api/v2) and return the parsed JSON (or its `key` list)."""
        return await self._request("GET", path, params=params, key=key)

    async def _request(self, method: str, path: str, *, params: Sequence[tuple[str, Any]] = (),
                       body: Any = None, key: str | None = None) -> Any:
        if self._client is None:
            raise RuntimeError("BuildbotClient must be used as an async context manager")
        url = self.api + path
        shown = str(httpx.URL(url, params=list(params))) if params else url
        attempt = 0
        while True:
            try:
                async with self._limit:
                    self.requests_made += 1
                    response = await self._client.request(method, url, params=list(params) or None, json=body,
                                                          headers=self._extra_headers)
            except httpx.DecodingError as error:
                # a compressed answer that does not decompress (seen from Buildbot 4.3 under load):
                # ask again, uncompressed from now on
                problem = f"undecodable compressed answer ({error})"
                self._extra_headers = {"Accept-Encoding": "identity"}
            except httpx.TimeoutException:
                problem = f"timed out after {self._timeout:g} s"
            except httpx.TransportError as error:
                problem = f"could not connect ({type(error).__name__}: {error})"
            else:
                if response.status_code < 500:
                    return self._decode(response, shown, key)
                problem = f"HTTP {response.status_code}: {_snippet(response.text)}"
            if attempt >= self.retries:
                raise ExternalServiceError(f"Buildbot {method} {shown}: {problem}",
                                           hint=f"gave up after {attempt + 1} attempts; is the master up?")
            await asyncio.sleep(self.backoff * (2 ** attempt))
            attempt += 1

    @staticmethod
    def _decode(response: httpx.Response, url: str, key: str | None) -> Any:
        if response.status_code >= 400:
            detail = _snippet(response.text)
            raise ExternalServiceError(f"Buildbot {response.request.method} {url}: HTTP {response.status_code}: {detail}",
                                       hint="check the builder name and the master URL"
                                       if response.status_code == 404 else None)
        try:
            data = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ExternalServiceError(
                f"Buildbot {url}: malformed or truncated JSON ({str(error)[:80]}; "
                f"{len(response.content)} bytes received)",
                hint="the master or a proxy in front of it sent a broken answer; try again") from None
        if key is None:
            return data
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise ExternalServiceError(f"Buildbot {url}: unexpected answer: no {key!r} list in it "
                                       f"({_snippet(json.dumps(data))})",
                                       hint="is this a Buildbot master (REST API v2)?")
        return data[key]

    async def _rpc(self, path: str, method: str, params: Mapping[str, Any]) -> Any:
        data = await self._request("POST", path, body={"jsonrpc": "2.0", "method": method, "id": 1,
                                                        "params": dict(params)})
        if not isinstance(data, dict) or "result" not in data:
            raise ExternalServiceError(f"Buildbot POST {self.api + path}: unexpected JSON-RPC answer "
                                       f"{_snippet(json.dumps(data))}")
        return data["result"]

    # ---- builders, builds, workers, changes -------------------------------------------------
    async def builders(self, tag: str | None = None) -> list[Builder]:
        """Every builder (or those carrying `tag`; one tag only: several tags are OR'ed by the master)."""
        params: list[tuple[str, Any]] = [("tags__contains", tag)] if tag else []
        params += [("field", f) for f in ("builderid", "name", "tags", "description")]
        try:
            return [Builder.from_api(b) for b in await self.get("/builders", params, key="builders")]
        except (KeyError, TypeError, ValueError) as error:
            raise ExternalServiceError(f"Buildbot {self.api}/builders: a builder lacks {error}") from None

    async def builder(self, name: str) -> Builder:
        """One builder by name."""
        items = await self.get(f"/builders/{quote(name, safe='')}", key="builders")
        if not items:
            raise ExternalServiceError(f"Buildbot {self.api}: no builder named {name!r}")
        return Builder.from_api(items[0])

    async def builds(self, builder: int | str | None, *, limit: int | None = 1, offset: int = 0,
                     complete: bool | None = True, results: Iterable[int] | None = None,
                     fields: Sequence[str] | None = BUILD_FIELDS, properties: Sequence[str] = (),
                     completed_since: float | None = None, oldest_first: bool = False) -> list[Build]:
        """Builds of one builder (id or name), newest completed first.

        `builder=None` means every builder (the master's most recent builds overall).
        `results` keeps only those result codes (filtered by the master's database);
        `completed_since` keeps builds completed at or after that time (whole seconds); `oldest_first`
        reverses the order; `fields` projects the answer; `properties` adds those properties.
        """
        ref = None if builder is None else str(builder) if isinstance(builder, int) else quote(builder, safe="")
        params: list[tuple[str, Any]] = []
        if complete is not None:
            params.append(("complete__eq", "true" if complete else "false"))
        for code in results or ():
            params.append(("results__in", code))
        if completed_since is not None:
            params.append(("complete_at__ge", int(completed_since)))
        # Completion times are whole seconds: break ties by build number, newest first.
        sign = "" if oldest_first else "-"
        tie = "number" if ref is not None else "buildid"
        params.extend([("order", f"{sign}complete_at"), ("order", f"{sign}{tie}")] if complete
                      else [("order", f"{sign}{tie}")])
        if limit is not None:
            params.append(("limit", limit))
        if offset:
            params.append(("offset", offset))
        if fields:
            # A filter on a field that is not selected is refused by the master (HTTP 400).
            wanted = list(dict.fromkeys([*fields, "number", tie, *(["results"] if results else []),
                                         *(["complete_at", "complete"] if complete is not None else [])]))
            params.extend(("field", f) for f in wanted)
        params.extend(("property", p) for p in properties)
        if properties and fields:
            params.append(("field", "properties"))
        path = f"/builders/{ref}/builds" if ref is not None else "/builds"
        items = await self.get(path, params, key="builds")
        try:
            return [Build.from_api(b) for b in items]
        except (KeyError, TypeError, ValueError) as error:
            raise ExternalServiceError(f"Buildbot {self.api}{path}: a build lacks {error}") from None

    async def build(self, buildid: int, *, properties: Sequence[str] = ()) -> Build:
        params = [("property", p) for p in properties]
        items = await self.get(f"/builds/{buildid}", params, key="builds")
        if not items:
            raise ExternalServiceError(f"Buildbot {self.api}/builds/{buildid}: no such build")
        return Build.from_api(items[0])

    async def workers(self) -> list[Worker]:
        try:
            fields = [("field", f) for f in ("workerid", "name", "connected_to", "configured_on", "paused")]
            return [Worker.from_api(w) for w in await self.get("/workers", fields, key="workers")]
        except (KeyError, TypeError, ValueError) as error:
            raise ExternalServiceError(f"Buildbot {self.api}/workers: a worker lacks {error}") from None

    async def build_changes(self, buildid: int, *, limit: int = 50) -> list[Change]:
        """The changes a build covers (since the builder's last successful build)."""
        items = await self.get(f"/builds/{buildid}/changes", [("limit", limit)], key="changes")
        return [Change.from_api(c) for c in items]

    async def gather(self, coroutines: Iterable[Any]) -> list[Any]:
        """Run requests concurrently; the client's semaphore bounds how many are in flight."""
        return list(await asyncio.gather(*coroutines))

    # ---- control: force a build and follow it -------------------------------------------------
    async def force_build(self, builder_name: str, properties: Mapping[str, Any] | None = None, *,
                          scheduler: str = "force", reason: str = "forced by relman",
                          username: str = "relman <relman@relman.invalid>") -> list[int]:
        """Force `builder_name` through the ForceScheduler `scheduler`; return the build request ids.

        `properties` are passed as the scheduler's parameters: the ForceScheduler must declare
        them (e.g. `util.StringParameter(name="tag")`), or `branch`/`revision` for the default
        codebase. The username must look like `Name <email>` (the scheduler checks it).
        """
        builder = await self.builder(builder_name)
        params = {"reason": reason, "username": username, "builderid": builder.builderid, **(properties or {})}
        result = await self._rpc(f"/forceschedulers/{quote(scheduler, safe='')}", "force", params)
        try:
            _bsid, requests = result
            return [int(v) for v in requests.values()]
        except (TypeError, ValueError, AttributeError):
            raise ExternalServiceError(f"Buildbot force {builder_name!r}: unexpected answer {result!r}") from None

    async def wait_for_build(self, buildrequest_id: int, *, timeout: float = 1800.0, poll: float = 0.5,
                             properties: Sequence[str] = ()) -> Build:
        """Wait until the build request's build completes; return that build.

        Raises StepTimeout after `timeout` seconds, ExternalServiceError if the request ends
        without a build (cancelled before it started).
        """
        deadline = time.monotonic() + timeout
        while True:
            builds = await self.get(f"/buildrequests/{buildrequest_id}/builds",
                                    [("property", p) for p in properties], key="builds")
            done = [Build.from_api(b) for b in builds if b.get("complete")]
            if done:
                return max(done, key=lambda b: b.buildid)   # a retried request has several builds
            if not builds:
                try:
                    requests = await self.get(f"/buildrequests/{buildrequest_id}", key="buildrequests")
                except ExternalServiceError as error:
                    if "HTTP 404" in error.message:
                        raise ExternalServiceError(f"Buildbot {self.api}: no build request {buildrequest_id}",
                                                   hint="was it forced on this master?") from None
                    raise
                if requests and requests[0].get("complete"):
                    raise ExternalServiceError(
                        f"Buildbot build request {buildrequest_id} finished without a build "
                        f"({result_name(requests[0].get('results'))})")
            if time.monotonic() >= deadline:
                raise StepTimeout(f"Buildbot build request {buildrequest_id} did not finish within {timeout:g} s",
                                  hint=f"see {self.root}/#/buildrequests/{buildrequest_id}")
            await asyncio.sleep(poll)

    async def stop_build(self, buildid: int, reason: str = "stopped by relman") -> None:
        await self._rpc(f"/builds/{buildid}", "stop", {"reason": reason})


def _snippet(text: str, size: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size] + "…"
