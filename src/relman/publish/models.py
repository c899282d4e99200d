"""The downloads API's payloads (python.org's v1 shapes), validated once at the edge.

Both sides use them: the site validates what clients send, the client builds what it
registers. Field names are python.org's (`apps/downloads/models.py`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A sidecar URL must be the file's URL plus this suffix (python.org's ReleaseFile.clean rule).
SIDECAR_FIELDS = {
    "gpg_signature_file": ".asc",
    "sigstore_signature_file": ".sig",
    "sigstore_cert_file": ".crt",
    "sigstore_bundle_file": ".sigstore",
    "sbom_spdx2_file": ".spdx.json",
}
# The manifest's sidecar kinds → the API field holding their URL.
KIND_FIELDS = {"gpg": "gpg_signature_file", "sigstore": "sigstore_bundle_file", "sbom": "sbom_spdx2_file"}

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
RELEASE_NAME = re.compile(r"^Python\s+(\S+)$")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError("use only letters, digits, '-' and '_'")
    return value


def _http_url(value: str) -> str:
    if value and not re.match(r"^https?://[^\s/]+/\S*$", value):
        raise ValueError("must be an http(s) URL")
    return value


class OSPayload(_Payload):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200)

    _check_slug = field_validator("slug")(_slug)


class ReleasePayload(_Payload):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200)
    version: int = 3
    is_published: bool = False
    is_latest: bool = False
    pre_release: bool = False
    show_on_download_page: bool = True
    release_date: datetime | None = None
    release_notes_url: str = ""
    content: str = ""

    _check_slug = field_validator("slug")(_slug)
    _check_url = field_validator("release_notes_url")(_http_url)


class ReleaseFilePayload(_Payload):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200)
    os: str                       # URI: /api/v1/downloads/os/<pk>/
    release: str                  # URI: /api/v1/downloads/release/<pk>/
    description: str = ""
    is_source: bool = False
    url: str = Field(min_length=1, max_length=200)
    gpg_signature_file: str = ""
    sigstore_signature_file: str = ""
    sigstore_cert_file: str = ""
    sigstore_bundle_file: str = ""
    sbom_spdx2_file: str = ""
    md5_sum: str = ""
    sha256_sum: str = ""
    filesize: int = Field(default=0, ge=0)
    download_button: bool = False

    _check_slug = field_validator("slug")(_slug)
    _check_url = field_validator("url", *SIDECAR_FIELDS)(_http_url)

    @field_validator("sha256_sum")
    @classmethod
    def _check_sha256(cls, value: str) -> str:
        value = value.lower()
        if value and not HEX64.match(value):
            raise ValueError("must be 64 hexadecimal digits")
        return value

    @model_validator(mode="after")
    def _sidecars_follow_the_file(self) -> ReleaseFilePayload:
        wrong = [f"{name} must be {self.url}{suffix} (the file's URL plus {suffix!r})"
                 for name, suffix in SIDECAR_FIELDS.items()
                 if getattr(self, name) and getattr(self, name) != self.url + suffix]
        if wrong:
            raise ValueError("; ".join(wrong))
        return self

    def comparable(self) -> dict[str, Any]:
        """The fields a registration compares (everything the client sets)."""
        return self.model_dump()


def release_version_text(name: str) -> str | None:
    """`Python 3.14.0rc1` → `3.14.0rc1` (python.org's Release.get_version, pre-releases kept)."""
    match = RELEASE_NAME.match(name.strip())
    return match.group(1) if match else None


def uri_pk(uri: str | int) -> int | None:
    """`/api/v1/downloads/os/3/`, `3` or 3 → 3."""
    if isinstance(uri, int):
        return uri
    match = re.search(r"(\d+)/?$", str(uri))
    return int(match.group(1)) if match else None


__all__ = [
    "KIND_FIELDS",
    "SIDECAR_FIELDS",
    "OSPayload",
    "ReleaseFilePayload",
    "ReleasePayload",
    "release_version_text",
    "uri_pk",
]
