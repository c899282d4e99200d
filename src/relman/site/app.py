"""The `relman serve` application: one Starlette app assembled from route modules.

Each feature module (downloads site and API, dashboard, runs) exposes
`routes(site: Site) -> list[BaseRoute]`; `create_app` mounts them all beside the static files.
A module that is not present yet is simply not mounted, so features land independently.
A module may also define `lifespan(site)`, an async context manager run while the app serves
(the dashboard's background refresher).
"""

from __future__ import annotations

import gc
import hmac
import importlib
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ..errors import UsageError

# Feature modules, in mount order. Each defines `routes(site) -> list[BaseRoute]`.
ROUTE_MODULES = ("relman.site.downloads", "relman.site.dashboard", "relman.site.runs")

API_KEYS_ENV = "RELMAN_SITE_API_KEYS"  # "user:key[,user:key…]" — write access, never stored


def parse_api_keys(text: str) -> dict[str, str]:
    """`user:key,user2:key2` → {user: key}. Keys come from the environment only."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        user, sep, key = item.partition(":")
        if not sep or not user or not key:
            raise UsageError(f"{API_KEYS_ENV}: expected user:key pairs separated by commas, got {item.split(':')[0]!r}…",
                             hint="for example RELMAN_SITE_API_KEYS=rm:$(openssl rand -hex 16)")
        keys[user] = key
    return keys


def make_templates() -> Environment:
    """The site's templates (one definition: the app and the dashboard's judging process use it)."""
    return Environment(loader=PackageLoader("relman.site", "templates"), autoescape=select_autoescape(["html", "xml"]),
                       trim_blocks=True, lstrip_blocks=True)


@dataclass
class Site:
    """What every page and endpoint shares: where the data lives, who may write, the templates."""

    data_dir: Path
    api_keys: dict[str, str] = field(default_factory=dict)
    state_dir: Path | None = None          # relman journals shown on /runs/ (None: no runs pages)
    base_url: str = ""                     # public URL prefix used in API URLs and feeds
    options: dict = field(default_factory=dict)  # feature settings (buildbot URL, cycle file…)
    services: dict = field(default_factory=dict)  # per-feature shared state (caches, refreshers), by feature

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.templates = make_templates()

    def render(self, request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        html = self.templates.get_template(template).render(request=request, **context)
        return HTMLResponse(html, status_code=status_code)

    def authenticate(self, request: Request) -> str | None:
        """The user named by a valid `Authorization: ApiKey user:key` header, else None.
        Keys are compared in constant time."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "apikey":
            return None
        return self.check_credentials(credentials)

    def check_credentials(self, credentials: str) -> str | None:
        """The user named by a valid `user:key` (from a header or a form field), else None."""
        user, _, key = credentials.strip().partition(":")
        expected = self.api_keys.get(user)
        if expected is None:
            hmac.compare_digest(key.encode(), b"x" * max(len(key), 1))  # same work either way
            return None
        return user if hmac.compare_digest(key.encode(), expected.encode()) else None


def site_from_environment(data_dir: Path, **kwargs) -> Site:
    return Site(data_dir=data_dir, api_keys=parse_api_keys(os.environ.get(API_KEYS_ENV, "")), **kwargs)


def _feature_modules() -> list:
    modules = []
    for name in ROUTE_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name == name:
                continue  # feature not present in this build
            raise
    return modules


def create_app(site: Site) -> Starlette:
    modules = _feature_modules()
    routes: list[BaseRoute] = [route for module in modules for route in module.routes(site)]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for module in modules:
                if hasattr(module, "lifespan"):
                    await stack.enter_async_context(module.lifespan(site))
            yield

    static = StaticFiles(packages=[("relman.site", "static")])
    app = Starlette(routes=[*routes, Mount("/static", app=static, name="static")], lifespan=lifespan)
    app.state.site = site
    return app


def serve(site: Site, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the app until interrupted (`relman serve`, and the web benchmark as relman serve)."""
    import uvicorn

    app = create_app(site)
    # What start-up made (modules, templates, routes) lives as long as the server: keep it out
    # of the collector's full passes, which would otherwise walk all of it while requests wait.
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
