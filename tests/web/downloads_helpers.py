"""Shared setup for the downloads-site tests: an app with an API key, and a fault injector."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from relman.site.app import Site, create_app

KEY = "rm:s3cret-key"
AUTH = {"Authorization": f"ApiKey {KEY}"}


def make_site(tmp_path: Path) -> Site:
    return Site(data_dir=tmp_path / "site", api_keys={"rm": "s3cret-key"},
                options={"ftp_root": str(tmp_path / "ftp")})


def client_for(site: Site, wrap=None) -> TestClient:
    app = create_app(site)
    return TestClient(wrap(app) if wrap else app)


class FailRequests:
    """ASGI middleware answering 500 to the requests whose number (from 1) is in `failing`."""

    def __init__(self, app, failing: set[int]):
        self.app = app
        self.failing = set(failing)
        self.count = 0
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.count += 1
        self.seen.append((scope["method"], scope["path"]))
        if self.count in self.failing:
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"error": "injected failure"}'})
            return
        return await self.app(scope, receive, send)


def seed(client: TestClient, *, published: bool = False, name: str = "Python 3.14.0rc1",
         slug: str = "python-3140rc1") -> dict:
    """An OS pair and one release; returns their URIs."""
    uris = {}
    for os_slug, os_name in (("source", "Source release"), ("windows", "Windows")):
        existing = client.get("/api/v1/downloads/os/", params={"slug": os_slug}).json()["objects"]
        if existing:
            uris[os_slug] = existing[0]["resource_uri"]
            continue
        response = client.post("/api/v1/downloads/os/", json={"name": os_name, "slug": os_slug}, headers=AUTH)
        assert response.status_code == 201
        uris[os_slug] = response.json()["resource_uri"]
    response = client.post("/api/v1/downloads/release/", headers=AUTH,
                           json={"name": name, "slug": slug, "is_published": published,
                                 "pre_release": "rc" in name or "a" in name.split()[-1] or "b" in name.split()[-1],
                                 "release_date": "2026-11-30T10:00:00+00:00"})
    assert response.status_code == 201, response.text
    uris["release"] = response.json()["resource_uri"]
    return uris


def file_body(uris: dict, name: str, url: str, *, os_slug: str = "source", button: bool = False, **extra) -> dict:
    return {"name": name, "slug": "3140-rc1-" + name.replace(" ", "-"), "os": uris[os_slug],
            "release": uris["release"], "url": url, "download_button": button, "filesize": 10,
            "sha256_sum": "ab" * 32, **extra}
