"""Platform hand-off steps: tell each platform's builders what to build, then wait for their
files in the drop location and check what arrived.

publish.handoff        write the hand-off (tag, commit, files, drop, deadline) as an email
                       draft per platform; send it when [publish] smtp_host is set
publish.wait-platforms wait (with a timeout) until every platform's files are there, showing
                       "Waiting for files: source ✅ Windows ✅ macOS ❌"; fetch and verify them
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..announce.channels import send_email
from ..config import EmailChannel
from ..engine.step import LOCAL, REMOTE, Effect, Step, StepContext
from ..errors import CheckFailed, StepTimeout, UsageError
from ..publish.handoff import (
    LocalDrop,
    check_drop,
    handoff_email,
    handoff_platforms,
    plan_handoffs,
    platform_title,
    status_line,
    verify_arrivals,
)
from .context import Release, release_of
from .publish import publishes, security_release

PHASE = "publish"


def _drop_root(release: Release) -> str:
    drop = release.settings.publish.drop_dir
    if not drop:
        raise UsageError("this release has platform hand-offs but no drop location",
                         hint="set [publish] drop_dir in relman.toml (the folder platform builders deliver into)")
    return drop


def _handoff_dir(release: Release) -> Path:
    return release.work_dir / "handoff"


SKIPPED = "publishing is not configured ([publish] target / drop_dir): no hand-offs"


def send_handoffs(ctx: StepContext) -> dict:
    release = release_of(ctx)
    s = release.settings.publish
    security = security_release(ctx)
    if not s.configured and not s.drop_dir:
        ctx.log(SKIPPED)
        return {"platforms": [], "skipped": SKIPPED}
    if not handoff_platforms(release.settings.profile, release.version, security=security):
        ctx.log("no platform hand-offs for this release" + (" (security release: source only)" if security else ""))
        return {"platforms": [], "security": security}
    tag = ctx.dep("source.tag")
    deadline = (datetime.now(UTC) + timedelta(hours=s.handoff_deadline_hours)).isoformat(timespec="minutes")
    handoffs = plan_handoffs(release.settings.profile, release.version, security=security,
                             tag=str(tag.get("tag", release.version.git_tag)), commit=str(tag.get("commit", "")),
                             drop=_drop_root(release), deadline=deadline)
    folder = _handoff_dir(release)
    folder.mkdir(parents=True, exist_ok=True)
    sent_file = folder / "sent.json"
    sent: dict[str, str] = json.loads(sent_file.read_text()) if sent_file.is_file() else {}
    for handoff in handoffs:
        message = handoff_email(handoff, sender=s.mail_from, to=s.platform_contacts.get(handoff.platform),
                                project=release.settings.project)
        draft = folder / f"{handoff.platform}.eml"
        draft.write_bytes(bytes(message))
        (folder / f"{handoff.platform}.json").write_text(json.dumps(handoff.as_dict(), indent=2) + "\n")
        if s.smtp_host and handoff.platform not in sent:
            # The one SMTP client (announce's channel): refusals and timeouts become clear errors.
            send_email(message, EmailChannel(smtp_host=s.smtp_host, smtp_port=s.smtp_port))
            sent[handoff.platform] = datetime.now(UTC).isoformat(timespec="seconds")
            sent_file.write_text(json.dumps(sent, indent=2) + "\n")
            ctx.log(f"hand-off sent to {message['To']} ({platform_title(handoff.platform)})")
        else:
            ctx.log(f"hand-off draft for {platform_title(handoff.platform)}: {draft}"
                    + (" (already sent)" if handoff.platform in sent else " (no SMTP configured: send it yourself)"))
    return {"platforms": [h.platform for h in handoffs], "drafts": str(folder), "sent": sorted(sent),
            "deadline": deadline, "security": security}


def wait_for_platforms(ctx: StepContext) -> dict:
    release = release_of(ctx)
    s = release.settings.publish
    platforms = handoff_platforms(release.settings.profile, release.version, security=security_release(ctx))
    if ctx.dep("publish.handoff").get("skipped"):
        return {"files": {}, "dir": "", "skipped": SKIPPED}
    if not platforms:
        ctx.log("Waiting for files: source ✅ (no platform builds for this release)")
        return {"files": {}, "dir": ""}
    drop = _drop(release)
    interval = 5.0 if s.drop_sftp else 1.0      # a look over SFTP is a new connection: look less often
    started = time.monotonic()
    limit = ctx.remaining(s.handoff_timeout_s) or 0.0
    previous: dict[str, int] | None = None
    last_line = ""
    while True:
        ctx.check_cancelled()
        listing = drop.listing()
        statuses = check_drop(platforms, listing, previous)
        line = status_line(statuses)
        if line != last_line:
            ctx.log(line)
            last_line = line
        done = sum(len(st.present) for st in statuses.values())
        total = sum(len(specs) for specs in platforms.values())
        ctx.progress(done, total, line)
        wrong = [(p, name, why) for p, st in statuses.items() for name, why in st.wrong]
        if wrong:
            raise CheckFailed("wrong files in the drop location:\n" + "\n".join(
                f"  {platform_title(p)}: {name}: {why}" for p, name, why in wrong),
                where=str(drop.folder), hint="ask the platform builders to replace them, then run again")
        if all(st.complete for st in statuses.values()):
            break
        if time.monotonic() - started >= limit:
            missing = [f"{platform_title(p)}: {', '.join(st.missing)}" for p, st in statuses.items() if st.missing]
            raise StepTimeout(f"timed out after {time.monotonic() - started:.0f} s waiting for platform files:\n  "
                              + "\n  ".join(missing), where=str(drop.folder),
                              hint="run again to keep waiting (nothing else is redone), or raise "
                                   "[publish] handoff_timeout_s")
        previous = listing
        ctx.sleep(min(interval, max(0.05, limit - (time.monotonic() - started))))
    dest = release.work_dir / "platforms"
    dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(drop.listing()):
        drop.fetch(name, dest / name)
    signing = release.settings.signing
    files, problems = verify_arrivals(platforms, dest, gnupghome=Path(signing.gnupghome) if signing.gnupghome
                                      else None)
    if problems:
        raise CheckFailed("platform files failed verification:\n  " + "\n  ".join(problems), where=str(dest),
                          hint="ask the platform builders to deliver them again, then run again")
    ctx.log(f"{len(files)} platform files arrived and verified")
    return {"files": files, "dir": str(dest)}


def _drop(release: Release) -> Any:
    """Where the platform builders deliver: `<drop_dir>/<version>/`, here or on the SFTP server."""
    s = release.settings.publish
    if s.drop_sftp:
        from ..publish.sftp import SftpDrop, SftpTarget

        target = SftpTarget(s.sftp_host or "", port=s.sftp_port, user=s.sftp_user, known_hosts=s.sftp_known_hosts,
                            key=s.sftp_key, root=s.sftp_root)
        return SftpDrop(target, f"{_drop_root(release).rstrip('/')}/{release.version.text}")
    return LocalDrop(Path(_drop_root(release)) / release.version.text)


def handoff_steps() -> list[Step]:
    common: dict[str, Any] = {"phase": PHASE, "condition": publishes, "uses": ("version",),
                              "condition_text": "for profiles with an artifact manifest, with a [publish] target"}
    return [
        Step("publish.handoff", "hand the tag to the platform builders (email draft, sent when SMTP is set)",
             send_handoffs, deps=("source.push-fork",), timeout_s=300,
             effects=(Effect(LOCAL, "writes hand-off drafts"), Effect(REMOTE, "sends hand-off emails (SMTP)")),
             **common),
        Step("publish.wait-platforms", "wait for the platform files in the drop location and verify them",
             wait_for_platforms, deps=("publish.handoff", "build.artifacts"), timeout_s=48 * 3600,
             effects=(Effect(LOCAL, "copies the delivered files into the run's folder"),), **common),
    ]


__all__ = ["handoff_steps"]
