"""Send the drafts of a release to its channels, once each.

What goes out is read back from the drafts folder (so an edited draft is what is sent). A
ledger (`sent.json` in that folder) records each channel as soon as it is done, so sending
again — after a failure on another channel, or a resumed run — never posts twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import AnnounceSettings
from ..errors import ExternalServiceError, RelmanError, UsageError
from .channels import CHANNELS, Sent, post_discourse, post_mastodon, send_email
from .drafts import DRAFT_FILES, read_email, read_post

LEDGER = "sent.json"


def idempotency_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def read_ledger(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise UsageError(f"the send ledger is unreadable: {error}", where=str(path),
                         hint="check the file; it records what was already sent") from None
    return data if isinstance(data, dict) else {}


def record_ledger(path: Path, key: str, entry: Mapping[str, Any]) -> None:
    """Add one entry to a JSON ledger, replacing the file atomically."""
    data = read_ledger(path)
    data[key] = dict(entry)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def send_announcement(folder: Path, channels: Sequence[str], settings: AnnounceSettings, *, version: str,
                      env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Send the drafts in `folder` to each channel not sent yet; report every channel.

    Raises ExternalServiceError after trying every channel when one of them failed (the ones
    that worked are recorded and will not be sent again)."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise UsageError(f"unknown channel(s): {', '.join(unknown)}", hint=f"one of: {', '.join(CHANNELS)}")
    missing = [name for name in ("blog", "email", "mastodon") if not (folder / DRAFT_FILES[name]).is_file()]
    if missing:
        raise UsageError(f"no drafts to send in {folder} (missing {', '.join(DRAFT_FILES[m] for m in missing)})",
                         hint=f"write them first: relman announce {version}")
    ledger = folder / LEDGER
    done = read_ledger(ledger)
    report: list[dict[str, Any]] = []
    failures: list[str] = []
    configuration_only = True                 # every failure is a setting to fix (exit 2), none a service's (1)
    for channel in channels:
        if channel in done:
            report.append({**done[channel], "channel": channel, "already": True})
            continue
        try:
            sent = _send_one(channel, folder, settings, version, env)
        except RelmanError as error:
            configuration_only = configuration_only and isinstance(error, UsageError)
            failures.append(f"{channel}: {error.message}" + (f" ({error.where})" if error.where else ""))
            report.append({"channel": channel, "error": error.message, "where": error.where, "hint": error.hint})
            continue
        entry = {**sent.as_dict(), "at": time.time()}
        record_ledger(ledger, channel, entry)
        report.append({**entry, "already": False})
    if failures:
        kind = UsageError if configuration_only else ExternalServiceError
        raise kind("could not send the announcement to every channel:\n  " + "\n  ".join(failures),
                   hint="the channels that worked are recorded and will not be sent again; fix the others and send again")
    return report


def _send_one(channel: str, folder: Path, settings: AnnounceSettings, version: str,
              env: Mapping[str, str] | None) -> Sent:
    if channel == "email":
        return send_email(read_email(folder / DRAFT_FILES["email"]), settings.email, env=env,
                          timeout=settings.timeout_s)
    if channel == "mastodon":
        text = (folder / DRAFT_FILES["mastodon"]).read_text(encoding="utf-8").rstrip("\n")
        return post_mastodon(text, settings.mastodon, env=env, timeout=settings.timeout_s,
                             idempotency_key=idempotency_key("announce", version, "mastodon"))
    title, raw = read_post(folder / DRAFT_FILES["blog"])
    return post_discourse(title, raw, settings.discourse, env=env, timeout=settings.timeout_s)
