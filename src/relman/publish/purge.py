"""CDN purge: an HTTP `PURGE` for exactly the URLs a release published.

The request goes to the configured purge endpoint with the public URL's path (Fastly accepts
`PURGE <url>`; a self-hosted cache takes the same method on its own address). Anything but a
2xx after retries is a failure that names the URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpx

from ..errors import ExternalServiceError
from .client import Backoff


def purge_target(endpoint: str, public_url: str) -> str:
    parts = urlsplit(public_url)
    return endpoint.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def purge_urls(endpoint: str, urls: Iterable[str], *, http: httpx.Client | None = None, attempts: int = 3,
               backoff_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
               headers: dict[str, str] | None = None) -> list[str]:
    """PURGE each URL once (in order, de-duplicated); returns the purge targets."""
    backoff = Backoff(attempts=attempts, first_s=backoff_s)
    client = http or httpx.Client(timeout=30.0)
    done: list[str] = []
    try:
        for url in dict.fromkeys(urls):
            target = purge_target(endpoint, url)
            last = ""
            for attempt in range(1, attempts + 1):
                try:
                    response = client.request("PURGE", target, headers=headers or {})
                    if 200 <= response.status_code < 300:
                        break
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as error:
                    last = f"{type(error).__name__}: {error}"
                if attempt < attempts:
                    sleep(backoff.delay(attempt))
            else:
                raise ExternalServiceError(f"PURGE {target} failed {attempts} times ({last}); "
                                           f"{len(done)} URL(s) purged before it",
                                           hint="check [publish] cdn_purge; run again to purge the rest")
            done.append(target)
    finally:
        if http is None:
            client.close()
    return done


__all__ = ["purge_target", "purge_urls"]
