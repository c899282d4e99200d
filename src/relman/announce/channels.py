"""Sending announcements: SMTP, Mastodon (`POST /api/v1/statuses`) and Discourse (`POST /posts.json`).

Real client code (smtplib, httpx). Tokens and passwords come from the environment only, named
by the configuration; they are never written, logged or shown. Every failure — refused
credentials (401/403), a server error (5xx), a validation error (422), a timeout, a connection
refused — becomes an `ExternalServiceError` naming the channel, the URL and what to do.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from ..config import AnnounceSettings, DiscourseChannel, EmailChannel, MastodonChannel
from ..errors import ExternalServiceError, UsageError
from .drafts import MASTODON_LIMIT, mastodon_length

CHANNELS = ("email", "mastodon", "discourse")


@dataclass
class Sent:
    channel: str
    id: str | None = None
    url: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "id": self.id, "url": self.url, **self.detail}


def _secret(env: Mapping[str, str], name: str | None, what: str, setting: str) -> str:
    value = env.get(name or "")
    if not name or not value:
        raise UsageError(f"no {what}: the environment variable {name or '(unset)'} is empty",
                         where=setting, hint=f"export {name or 'THE_VARIABLE'}=… (tokens come from the environment only)")
    return value


def _server_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(data, dict):
        if isinstance(data.get("errors"), list):
            return "; ".join(map(str, data["errors"]))[:300]
        if data.get("error"):
            return str(data["error"])[:300]
    return str(data)[:200]


def _check(response: httpx.Response, channel: str, token_hint: str) -> dict[str, Any]:
    url = str(response.request.url)
    if response.status_code in (401, 403):
        raise ExternalServiceError(f"{channel} refused the credentials ({response.status_code}): "
                                   f"{_server_message(response)}", where=url, hint=token_hint)
    if response.status_code == 422:
        raise ExternalServiceError(f"{channel} rejected the post (422): {_server_message(response)}", where=url,
                                   hint="edit the draft and send again")
    if response.status_code == 429:
        raise ExternalServiceError(f"{channel} is rate-limiting (429)", where=url, hint="wait a little and send again")
    if response.status_code >= 400:
        raise ExternalServiceError(f"{channel} answered {response.status_code}: {_server_message(response)}",
                                   where=url, hint="nothing was posted; send again later")
    try:
        data = response.json()
    except ValueError:
        raise ExternalServiceError(f"{channel} answered {response.status_code} with something that is not JSON",
                                   where=url, hint="is this the right URL?") from None
    if not isinstance(data, dict):
        raise ExternalServiceError(f"{channel} answered with unexpected JSON", where=url)
    return data


def _post(channel: str, url: str, *, headers: dict[str, str], json_body: dict[str, Any], timeout: float,
          token_hint: str) -> dict[str, Any]:
    try:
        response = httpx.post(url, headers=headers, json=json_body, timeout=timeout)
    except httpx.TimeoutException:
        raise ExternalServiceError(f"{channel} did not answer within {timeout:g} s", where=url,
                                   hint="the post may or may not have been made: check the channel, then send again") from None
    except httpx.HTTPError as error:
        raise ExternalServiceError(f"could not reach {channel}: {error}", where=url,
                                   hint="check the URL in relman.toml [announce] and the network") from None
    return _check(response, channel, token_hint)


def post_mastodon(text: str, settings: MastodonChannel, *, env: Mapping[str, str] | None = None,
                  timeout: float = 20.0, idempotency_key: str | None = None) -> Sent:
    if not settings.url:
        raise UsageError("no Mastodon instance configured", where="[announce.mastodon] url")
    if mastodon_length(text) > MASTODON_LIMIT:
        raise UsageError(f"the Mastodon post is {mastodon_length(text)} characters (limit {MASTODON_LIMIT})",
                         hint="shorten the draft mastodon.txt")
    token = _secret(env if env is not None else os.environ, settings.token_env, "Mastodon access token",
                    "[announce.mastodon] token_env")
    headers = {"Authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    data = _post("Mastodon", settings.url.rstrip("/") + "/api/v1/statuses", headers=headers,
                 json_body={"status": text, "visibility": settings.visibility}, timeout=timeout,
                 token_hint=f"set {settings.token_env} to an access token with the write:statuses scope")
    return Sent("mastodon", str(data.get("id")) if data.get("id") is not None else None, data.get("url"))


def post_discourse(title: str, raw: str, settings: DiscourseChannel, *, env: Mapping[str, str] | None = None,
                   timeout: float = 20.0) -> Sent:
    if not settings.url:
        raise UsageError("no Discourse site configured", where="[announce.discourse] url")
    if not settings.username:
        raise UsageError("no Discourse user configured", where="[announce.discourse] username")
    key = _secret(env if env is not None else os.environ, settings.api_key_env, "Discourse API key",
                  "[announce.discourse] api_key_env")
    body: dict[str, Any] = {"raw": raw}
    if settings.topic_id is not None:
        body["topic_id"] = settings.topic_id
    else:
        body["title"] = title
        if settings.category is not None:
            body["category"] = settings.category
    base = settings.url.rstrip("/")
    data = _post("Discourse", base + "/posts.json", headers={"Api-Key": key, "Api-Username": settings.username},
                 json_body=body, timeout=timeout,
                 token_hint=f"check {settings.api_key_env} and [announce.discourse] username")
    url = None
    if data.get("topic_slug") and data.get("topic_id") is not None:
        url = f"{base}/t/{data['topic_slug']}/{data['topic_id']}"
        if data.get("post_number") not in (None, 1):
            url += f"/{data['post_number']}"
    return Sent("discourse", str(data.get("id")) if data.get("id") is not None else None, url,
                {"topic_id": data.get("topic_id")})


def send_email(message: EmailMessage, settings: EmailChannel, *, env: Mapping[str, str] | None = None,
               timeout: float = 20.0) -> Sent:
    if not message["From"]:
        raise UsageError("the email has no sender", where="[announce.email] sender",
                         hint="set it, then write the drafts again")
    if not message["To"]:
        raise UsageError("the email has no recipients", where="[announce.email] to",
                         hint="set the mailing lists, then write the drafts again")
    env = env if env is not None else os.environ
    where = f"smtp://{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user_env:
                smtp.login(_secret(env, settings.user_env, "SMTP user", "[announce.email] user_env"),
                           _secret(env, settings.password_env, "SMTP password", "[announce.email] password_env"))
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as error:
        raise ExternalServiceError(f"the mail server refused the login ({error.smtp_code})", where=where,
                                   hint=f"check {settings.user_env} and {settings.password_env}") from None
    except smtplib.SMTPException as error:
        raise ExternalServiceError(f"the mail server refused the message: {error}", where=where) from None
    except TimeoutError:
        raise ExternalServiceError(f"the mail server did not answer within {timeout:g} s", where=where) from None
    except OSError as error:
        raise ExternalServiceError(f"could not reach the mail server: {error}", where=where,
                                   hint="check [announce.email] smtp_host and smtp_port") from None
    if refused:
        raise ExternalServiceError(f"the mail server refused some recipients: {', '.join(refused)}", where=where)
    return Sent("email", str(message["Message-ID"]), None, {"to": str(message["To"])})


def check_channels(channels: list[str], settings: AnnounceSettings) -> None:
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise UsageError(f"unknown channel(s): {', '.join(unknown)}", hint=f"one of: {', '.join(CHANNELS)}")
