"""Publishing steps: upload, docs, registration on the downloads site, CDN purge, and the
verification of what users download before the release is marked published.

```
build.* ─┬→ publish.upload → publish.docs ─────────┐
publish.wait-platforms ┘    → publish.register ────┴→ publish.purge → publish.verify (marks it published)
```

The libraries in relman.publish do the work; these steps only read the configuration
(`[publish]` in relman.toml) and the outputs of earlier steps. Without a `[publish]` target
the steps are skipped (run parameter `publishing`), so a release relman does not publish still runs.
"""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path
from typing import Any

from ..artifacts.manifest import get_profile
from ..engine.step import REMOTE, Effect, Retry, Step, StepContext
from ..errors import CheckFailed, TransientError, UsageError
from ..publish.files import (
    PublishedFile,
    desired_files,
    folder_name,
    public_urls,
    publication,
    release_payload,
    release_slug,
)
from ..version import Version
from .build import BUILD_DONE, has_artifacts
from .context import Release, release_of

PHASE = "publish"
NOT_CONFIGURED = "no [publish] target configured (downloads_dir, or sftp_host): nothing uploaded"


def publishes(params) -> bool:
    """Profiles with an artifact manifest, when a `[publish]` target is configured."""
    return has_artifacts(params) and bool(params.get("publishing", True))


def _settings(release: Release):
    return release.settings.publish


def security_release(ctx: StepContext) -> bool:
    cycle = ctx.resources.get("release_cycle") or {}
    return bool(cycle) and release_of(ctx).version.is_security_release(cycle)


def upload_target(release: Release):
    """The configured upload target (a local tree, or a server over SFTP)."""
    s = _settings(release)
    if s.target == "sftp":
        from ..publish.sftp import SftpTarget

        return SftpTarget(s.sftp_host or "", port=s.sftp_port, user=s.sftp_user, known_hosts=s.sftp_known_hosts,
                          key=s.sftp_key, root=s.sftp_root, docs_root=s.sftp_docs_root, parallel=s.parallel)
    from ..publish.upload import LocalTree

    return LocalTree(Path(s.downloads_dir or ""), Path(s.docs_dir) if s.docs_dir else None, parallel=s.parallel)


def file_base_url(release: Release) -> str:
    """The public folder URL of this release's files, as registered on the downloads site."""
    s, v = _settings(release), release.version
    if s.file_url:
        return s.file_url.format(version=v.text, normalized=v.normalized)
    return get_profile(release.settings.profile).url_for(v, "")


def download_base_url(release: Release) -> str:
    """Where users download from: the CDN when configured, else the registered URLs."""
    s, v = _settings(release), release.version
    if s.public_url:
        return s.public_url.format(version=v.text, normalized=v.normalized)
    return file_base_url(release)


def downloads_client(release: Release):
    from ..publish.client import DownloadsClient

    s = _settings(release)
    key = os.environ.get(s.api_key_env, "")
    if not key or ":" not in key:
        raise UsageError(f"the downloads site needs an API key: set {s.api_key_env}=user:key in the environment",
                         hint="the variable is named by [publish] api_key_env; the key itself is never stored")
    return DownloadsClient(s.site_url or "", key)


def platform_drop(ctx: StepContext) -> tuple[dict[str, Any], Path | None]:
    handed = ctx.dep("publish.wait-platforms")
    files = handed.get("files") or {}
    return files, Path(handed["dir"]) if files else None


def published_files(ctx: StepContext) -> list[PublishedFile]:
    release = release_of(ctx)
    files, folder = platform_drop(ctx)
    return publication(release.settings.profile, release.version, release.artifacts_dir, files, folder)


# ---- steps ---------------------------------------------------------------------------------

def _upload_outputs(release: Release, files: list[PublishedFile], **extra: Any) -> dict[str, Any]:
    return {"target": _settings(release).target, "folder": folder_name(release.version),
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files], **extra}


def upload_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    if not _settings(release).configured:
        return None
    files = published_files(ctx)
    target = upload_target(release)
    try:
        if target.missing(folder_name(release.version), files):
            return None
    finally:
        target.close()
    return _upload_outputs(release, files, uploaded=[], already=[f.name for f in files])


def upload(ctx: StepContext) -> dict:
    release = release_of(ctx)
    if not _settings(release).configured:
        ctx.log(NOT_CONFIGURED)
        return {"skipped": NOT_CONFIGURED, "files": []}
    files = published_files(ctx)
    target = upload_target(release)
    folder = folder_name(release.version)
    ctx.log(f"uploading {len(files)} files to {target.name}:{folder}/ (staged, then moved into place)")
    try:
        report = target.upload(folder, files, progress=lambda done, total, name: ctx.progress(done, total, "files"))
    finally:
        target.close()
    ctx.log(f"{len(report.uploaded)} uploaded ({report.bytes} bytes), {len(report.already)} already in place")
    return _upload_outputs(release, files, uploaded=report.uploaded, already=report.already)


def docs_applies(params) -> bool:
    return publishes(params) and Version.parse(params["version"]).includes_docs


def unpack_docs(ctx: StepContext) -> dict:
    release = release_of(ctx)
    s = _settings(release)
    if not s.configured:
        return {"skipped": NOT_CONFIGURED}
    if not (s.sftp_docs_root if s.target == "sftp" else s.docs_dir):
        ctx.log("no docs folder configured ([publish] docs_dir / sftp_docs_root): docs not unpacked")
        return {"skipped": "no docs folder configured"}
    names = {f["name"] for f in ctx.dep("publish.upload").get("files", [])}
    from ..artifacts.manifest import expected_files

    html = [spec.name for spec in expected_files(release.settings.profile, release.version, producer="docs")
            if spec.docs_format == "html" and spec.name in names]
    if not html:
        return {"skipped": "this release has no HTML docs archive"}
    archive = min(html, key=lambda n: not n.endswith(".zip"))
    target = upload_target(release)
    dest = f"release/{release.version.text}"
    try:
        where = target.unpack_docs(release.artifacts_dir / archive, dest)
    finally:
        target.close()
    ctx.log(f"{archive} unpacked into {where}")
    return {"archive": archive, "dest": where}


def register(ctx: StepContext) -> dict:
    release = release_of(ctx)
    s = _settings(release)
    uploaded = ctx.dep("publish.upload")
    if not s.site_url or uploaded.get("skipped"):
        ctx.log("no downloads site configured ([publish] site_url) or nothing uploaded: nothing registered")
        return {"skipped": "no downloads site or nothing uploaded"}
    from ..publish.files import PublishedFile as PF

    files = [PF(f["name"], f["size"], f["sha256"], Path()) for f in uploaded["files"]]
    client = downloads_client(release)
    try:
        rel = client.ensure_release(release_payload(release.version))
        profile = release.settings.profile
        specs_os = {spec.os for spec in _registrable(release, ctx)}
        os_uris = {slug: client.os_uri(slug) for slug in sorted(specs_os)}
        desired = desired_files(profile, release.version, files, file_base_url=file_base_url(release),
                                os_uris=os_uris, release_uri=rel["resource_uri"], security=security_release(ctx))
        result = client.register_files(rel["resource_uri"], desired,
                                       on_change=lambda action, slug: ctx.log(f"{action} {slug}"))
    finally:
        client.close()
    ctx.log(f"registered {len(desired)} files: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.deleted)} deleted, {len(result.unchanged)} unchanged")
    return {"release": rel["resource_uri"], "slug": rel["slug"], "files": len(desired), **result.as_dict()}


def _registrable(release: Release, ctx: StepContext):
    from ..publish.files import registrable

    return registrable(release.settings.profile, release.version, security_release(ctx))


def purge_list(release: Release, names: list[str]) -> list[str]:
    """Exactly what this release changed on the public site: its files, its folder listing,
    its release page, the downloads index and the feed."""
    base = file_base_url(release)
    urls = [base + n for n in names] + [base]
    site = _settings(release).site_url
    if site:
        site = site.rstrip("/")
        urls += [f"{site}/downloads/", f"{site}/downloads/release/{release_slug(release.version)}/",
                 f"{site}/downloads/feed.atom"]
    return urls


def purge(ctx: StepContext) -> dict:
    release = release_of(ctx)
    s = _settings(release)
    names = [f["name"] for f in ctx.dep("publish.upload").get("files", [])]
    if not s.cdn_purge or not names:
        ctx.log("no CDN purge endpoint configured ([publish] cdn_purge): nothing purged")
        return {"skipped": "no CDN purge endpoint", "purged": []}
    from ..publish.purge import purge_urls

    urls = purge_list(release, names)
    done = purge_urls(s.cdn_purge, urls)
    ctx.log(f"purged {len(done)} URLs")
    return {"purged": urls}


def verify_and_publish(ctx: StepContext) -> dict:
    """Download every public URL and compare it with the manifest; only then mark it published."""
    from ..publish.userverify import verify_downloads

    release = release_of(ctx)
    s = _settings(release)
    uploaded = ctx.dep("publish.upload")
    if uploaded.get("skipped"):
        return {"skipped": uploaded["skipped"], "published": False}
    files = [PublishedFile(f["name"], f["size"], f["sha256"], Path()) for f in uploaded["files"]]
    base = download_base_url(release)
    report = verify_downloads(public_urls(files, base), parallel=s.parallel)
    if not report.ok:
        lines = "\n".join(f"  {url}: {problem}" for url, problem in report.problems)
        raise CheckFailed(f"{len(report.problems)} of {len(files)} public downloads differ from the manifest:\n{lines}",
                          hint="users would get these bytes: re-upload (run again), purge the CDN, and check again; "
                               "the release stays unpublished")
    ctx.log(f"downloaded {len(report.checked)} files from {base}: sizes and SHA-256 match the manifest")
    outputs: dict[str, Any] = {"checked": len(report.checked), "base_url": base, "published": False}
    registered = ctx.dep("publish.register")
    if s.site_url and registered.get("release"):
        client = downloads_client(release)
        try:
            latest = release.version.is_final and _newest_final(client, release.version)
            row = client.set_published(registered["release"], latest=latest, release_date=_now())
        finally:
            client.close()
        page = f"{s.site_url.rstrip('/')}/downloads/release/{row['slug']}/"
        outputs.update(published=True, latest=latest, release_page=page)
        ctx.log(f"marked published: {page}")
        if s.cdn_purge:
            from ..publish.purge import purge_urls

            site = s.site_url.rstrip("/")
            purge_urls(s.cdn_purge, [page, f"{site}/downloads/", f"{site}/downloads/feed.atom"])
    return outputs


def _now() -> str:
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _newest_final(client, version: Version) -> bool:
    from ..errors import VersionError
    from ..publish.models import release_version_text

    for row in client.objects("release", is_published="true", version=version.major):
        text = release_version_text(row["name"])
        try:
            other = Version.parse(text) if text else None
        except VersionError:
            other = None
        if other is not None and other.is_final and version < other:
            return False
    return True


def publish_steps() -> list[Step]:
    common: dict[str, Any] = {"phase": PHASE, "condition": publishes, "uses": ("version",),
                              "condition_text": "for profiles with an artifact manifest, with a [publish] target"}
    remote = (Effect(REMOTE, "writes release files to the downloads server"),)
    retry = Retry(attempts=3, backoff_s=2.0, on=(TransientError,))
    return [
        Step("publish.upload", "upload the release files (staged, then moved into place)", upload,
             deps=(*BUILD_DONE, "publish.wait-platforms"), probe=upload_probe, effects=remote, retry=retry,
             timeout_s=3600, **common),
        Step("publish.docs", "unpack the HTML docs into their place on the docs server", unpack_docs,
             deps=("publish.upload",), effects=(Effect(REMOTE, "replaces the release's docs folder"),),
             timeout_s=1800, **{**common, "condition": docs_applies,
                                "condition_text": "for releases with docs (rc and final)"}),
        Step("publish.register", "create the release on the downloads site and register its files by diff",
             register, deps=("publish.upload",), retry=retry, timeout_s=600,
             effects=(Effect(REMOTE, "creates or updates the release and its files (unpublished)"),), **common),
        Step("publish.purge", "purge exactly the published URLs from the CDN", purge,
             deps=("publish.register", "publish.docs"), retry=retry, timeout_s=600,
             effects=(Effect(REMOTE, "HTTP PURGE of the release's URLs"),), **common),
        Step("publish.verify", "download what users get, check sizes and SHA-256, then mark the release published",
             verify_and_publish, deps=("publish.purge",), timeout_s=3600,
             effects=(Effect(REMOTE, "marks the release published on the downloads site"),), **common),
    ]


PUBLISH_DONE = ("publish.upload",)

__all__ = ["PUBLISH_DONE", "download_base_url", "file_base_url", "publish_steps", "purge_list", "upload_target"]
