"""Verification of what users get: download every public URL (through the CDN when one is
configured) and compare its size and SHA-256 with the manifest, byte for byte."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class UserVerifyReport:
    checked: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"checked": self.checked, "problems": [{"url": u, "problem": p} for u, p in self.problems]}


def fetch_digest(client: httpx.Client, url: str) -> tuple[int, str, int]:
    """(HTTP status, sha256, size) of what a user downloading `url` receives."""
    digest = hashlib.sha256()
    size = 0
    with client.stream("GET", url, headers={"Cache-Control": "no-cache", "Accept-Encoding": "identity"}) as response:
        if response.status_code != 200:
            return response.status_code, "", 0
        for piece in response.iter_raw():
            digest.update(piece)
            size += len(piece)
    return 200, digest.hexdigest(), size


def verify_downloads(expected: Iterable[tuple[str, int, str]], *, http: httpx.Client | None = None,
                     parallel: int = 8, timeout: float = 60.0) -> UserVerifyReport:
    """Every (url, size, sha256) downloaded and compared; a problem per URL that differs."""
    client = http or httpx.Client(timeout=timeout, follow_redirects=True)
    report = UserVerifyReport()
    items = list(expected)

    def check(item: tuple[str, int, str]) -> tuple[str, str | None]:
        url, size, sha = item
        try:
            status, got_sha, got_size = fetch_digest(client, url)
        except httpx.HTTPError as error:
            return url, f"cannot download: {type(error).__name__}: {error}"
        if status != 200:
            return url, f"HTTP {status}"
        if got_size != size:
            return url, f"size {got_size} instead of {size}"
        if got_sha != sha:
            return url, f"SHA-256 {got_sha} instead of {sha}"
        return url, None

    try:
        with ThreadPoolExecutor(max(1, parallel)) as pool:
            for url, problem in pool.map(check, items):
                if problem is None:
                    report.checked.append(url)
                else:
                    report.problems.append((url, problem))
    finally:
        if http is None:
            client.close()
    return report


__all__ = ["UserVerifyReport", "fetch_digest", "verify_downloads"]
