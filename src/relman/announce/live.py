"""Live milestone posts: short updates while a release runs (off by default).

Milestones: countdown (the run starts), tag-pushed, builds-started, artifacts-ready, published.
Each is posted at most once per release: its key is derived from the release and the
milestone; the local ledger (the feed file itself, or `live-posts.json` next to it for remote
channels) is checked before posting and written right after, Mastodon is also given the key
as its `Idempotency-Key`, and each milestone is a journaled step, so a resumed run neither
skips nor repeats a post. In the demo the channel is a local feed file (JSON lines).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import AnnounceSettings
from .channels import post_discourse, post_mastodon
from .send import idempotency_key, read_ledger, record_ledger

MILESTONES = ("countdown", "tag-pushed", "builds-started", "artifacts-ready", "published")


def live_key(release_key: str, milestone: str) -> str:
    return idempotency_key("live", release_key, milestone)


def _feed_entries(feed: Path) -> list[dict[str, Any]]:
    try:
        lines = feed.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue                      # a torn last line from a killed writer: ignored, rewritten below
    return entries


def already_posted(key: str, settings: AnnounceSettings, feed: Path) -> dict[str, Any] | None:
    if settings.live.channel == "feed":
        return next((e for e in _feed_entries(feed) if e.get("key") == key), None)
    return read_ledger(feed.with_name("live-posts.json")).get(key)


def post_live(milestone: str, text: str, *, key: str, settings: AnnounceSettings, feed: Path,
              env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Post one milestone update unless it was posted already; returns what happened."""
    found = already_posted(key, settings, feed)
    if found is not None:
        return {"milestone": milestone, "key": key, "channel": settings.live.channel, "posted": False,
                "already": True, "text": found.get("text", text)}
    entry: dict[str, Any] = {"key": key, "milestone": milestone, "at": time.time(), "text": text}
    feed.parent.mkdir(parents=True, exist_ok=True)
    if settings.live.channel == "feed":
        torn = feed.exists() and feed.stat().st_size > 0 and not feed.read_bytes().endswith(b"\n")
        with open(feed, "a", encoding="utf-8") as out:
            if torn:
                out.write("\n")          # a line cut short by a killed writer stays on its own line
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
    else:
        if settings.live.channel == "mastodon":
            sent = post_mastodon(text, settings.mastodon, env=env, timeout=settings.timeout_s, idempotency_key=key)
        else:
            sent = post_discourse(f"{milestone}", text, settings.discourse, env=env, timeout=settings.timeout_s)
        entry.update(sent.as_dict())
        record_ledger(feed.with_name("live-posts.json"), key, entry)
    return {"milestone": milestone, "key": key, "channel": settings.live.channel, "posted": True, "already": False,
            "text": text}
