"""The release's last words: announcement drafts and sending, the schedule update, live posts.

- `announce.drafts` (after the builds are verified): renders the drafts into the work folder;
- `announce.send` [gate `announce`, irreversible]: sends the drafts to the configured channels.
  It exists only when the workflow has a publishing verification step (`publish.verify`), and
  depends on it, so nothing is announced before what users download has been checked; at run
  time it refuses again if that step did not report the release as verified;
- `schedule.mark-released` (after the push upstream): marks the release done, with its real
  date, in the schedule data when that is a local `python-releases.toml`;
- `live.*` (only when `[announce.live] enabled`): one short post per milestone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..announce.drafts import mastodon_length, render_drafts, render_live_post, write_drafts
from ..announce.facts import ReleaseFacts, files_from_dir, release_facts
from ..announce.live import already_posted, live_key, post_live
from ..announce.send import read_ledger, send_announcement
from ..engine.step import IRREVERSIBLE, LOCAL, REMOTE, Effect, Gate, Step, StepContext
from ..errors import RelmanError, StepFailed
from ..schedule.cycle import ReleaseCycle, countdown_phrase, load_cycle, resolve_source
from .build import BUILD_DONE
from .context import Release, release_of

PUBLISH_VERIFIED = "publish.verify"        # the publishing phase's last step: what users get was checked
ANNOUNCE_DRAFTS, ANNOUNCE_SEND = "announce.drafts", "announce.send"
SCHEDULE_MARK = "schedule.mark-released"
ANNOUNCE_GATE = Gate("announce", "Send the announcement to the configured channels (email, Mastodon, Discourse)?")
PHASE = "announce"


# ---- shared facts ------------------------------------------------------------------------

def release_day(release: Release) -> date:
    """The release's real date: the day (UTC) its tag was made; today if there is no tag yet."""
    out = release.git.run("for-each-ref", "--format=%(creatordate:unix)", f"refs/tags/{release.version.git_tag}",
                          check=False).stdout.strip()
    if out.isdigit():
        return datetime.fromtimestamp(int(out), UTC).date()
    return datetime.now(UTC).date()


def schedule_of(release: Release) -> ReleaseCycle | None:
    source = release.settings.readiness.cycle
    if not source:
        return None
    try:
        return load_cycle(resolve_source(source, release.repo), offline=True)
    except RelmanError:
        return None


def facts_of(release: Release, cycle: ReleaseCycle | None = None) -> ReleaseFacts:
    """The announcement facts of this release, from its tag, its news file and its built files."""
    v = release.version
    tag = v.git_tag
    news_path = f"{release.settings.news.dir}/{v.text}.rst"
    shown = release.git.run("show", f"refs/tags/{tag}:{news_path}", check=False)
    news = shown.stdout if shown.returncode == 0 else None
    if news is None and (release.repo / news_path).is_file():
        news = (release.repo / news_path).read_text(encoding="utf-8")
    return release_facts(v, project=release.settings.project, settings=release.settings.announce,
                         release_date=release_day(release), files=files_from_dir(release.artifacts_dir),
                         news_text=news, commit=release.git.tag_commit(tag),
                         cycle=cycle if cycle is not None else schedule_of(release))


def drafts_dir(release: Release) -> Path:
    configured = release.settings.announce.drafts_dir
    return Path(configured).expanduser() if configured else release.work_dir / "announce"


def feed_path(release: Release) -> Path:
    configured = release.settings.announce.live.feed
    return Path(configured).expanduser() if configured else release.work_dir / "live-feed.jsonl"


# ---- announce ----------------------------------------------------------------------------

def write_announcement(ctx: StepContext) -> dict[str, Any]:
    release = release_of(ctx)
    facts = facts_of(release)
    published = ctx.dep(PUBLISH_VERIFIED)
    if published.get("release_page"):
        facts.release_page = published["release_page"]          # the page the downloads site really made
    drafts = render_drafts(facts, release.settings.announce)
    written = write_drafts(drafts, drafts_dir(release))
    ctx.log(f"drafts in {drafts_dir(release)}")
    return {"dir": str(drafts_dir(release)), "files": {k: str(p) for k, p in written.items()},
            "subject": drafts.subject, "mastodon_length": mastodon_length(drafts.mastodon)}


def publishing_verified(outputs: Mapping[str, Any] | None) -> bool:
    """The publishing step downloaded what users get and found it right (not skipped, files checked)."""
    if not outputs or outputs.get("skipped"):
        return False
    return bool(outputs.get("checked"))


def send_probe(ctx: StepContext) -> dict[str, Any] | None:
    release = release_of(ctx)
    channels = list(release.settings.announce.channels)
    sent = read_ledger(drafts_dir(release) / "sent.json")
    if channels and all(c in sent for c in channels):
        return {"sent": [sent[c] for c in channels], "already": True}
    return None


def send_announcement_step(ctx: StepContext) -> dict[str, Any]:
    release = release_of(ctx)
    if PUBLISH_VERIFIED not in ctx.dep_outputs or not publishing_verified(ctx.dep(PUBLISH_VERIFIED)):
        raise StepFailed(f"refusing to announce {release.version}: publishing has not been verified",
                         hint=f"the step {PUBLISH_VERIFIED} must succeed first (what users download is checked)")
    channels = list(release.settings.announce.channels)
    if not channels:
        ctx.log("no announcement channels configured: the drafts are ready to send by hand")
        return {"sent": [], "dir": str(drafts_dir(release)), "note": "no channels configured ([announce] channels)"}
    report = send_announcement(drafts_dir(release), channels, release.settings.announce,
                               version=release.version.text, env=os.environ)
    return {"sent": report, "dir": str(drafts_dir(release))}


def _sending(publishes: Callable[[Mapping[str, Any]], bool] | None) -> Callable[[Mapping[str, Any]], bool]:
    def condition(params: Mapping[str, Any]) -> bool:
        return bool(params.get("announce_channels")) and (publishes is None or publishes(params))
    return condition


def announce_steps(existing: Sequence[Step]) -> list[Step]:
    """The announce steps for a workflow made of `existing` steps: sending only when it has a
    publishing verification step, and under the same condition (no publishing, no sending)."""
    publish = next((s for s in existing if s.id == PUBLISH_VERIFIED), None)
    after = (*BUILD_DONE, PUBLISH_VERIFIED) if publish is not None else BUILD_DONE
    steps = [Step(ANNOUNCE_DRAFTS, "write the announcement drafts (blog, email, Mastodon, hand-off)", write_announcement,
                  deps=after, phase=PHASE, uses=("version",),
                  effects=(Effect(LOCAL, "announcement drafts in the work folder"),))]
    if publish is not None:
        steps.append(Step(ANNOUNCE_SEND, "send the announcement (after publishing is verified)",
                          send_announcement_step, deps=(ANNOUNCE_DRAFTS, PUBLISH_VERIFIED, "post.push-upstream"),
                          phase=PHASE, probe=send_probe, gate=ANNOUNCE_GATE, uses=("version", "announce_channels"),
                          condition=_sending(publish.condition),
                          condition_text="when announcement channels are configured ([announce] channels)"
                                         + (f" and {publish.condition_text}" if publish.condition_text else ""),
                          effects=(Effect(IRREVERSIBLE, "the announcement posted to the configured channels"),)))
    return steps


# ---- the schedule ------------------------------------------------------------------------

def _schedule_file(release: Release) -> Path | None:
    source = release.settings.readiness.cycle
    if not source or source.startswith(("http://", "https://")):
        return None
    path = Path(resolve_source(source, release.repo))
    return path if path.suffix == ".toml" else None


def mark_probe(ctx: StepContext) -> dict[str, Any] | None:
    from ..schedule.update import released_in

    release = release_of(ctx)
    path = _schedule_file(release)
    if path is None or not path.is_file():
        return None
    when = released_in(path, release.version)
    return {"path": str(path), "date": when.isoformat(), "changes": []} if when == release_day(release) else None


def mark_in_schedule(ctx: StepContext) -> dict[str, Any]:
    from ..schedule.update import mark_released

    release = release_of(ctx)
    path = _schedule_file(release)
    if path is None:
        ctx.log("the schedule data is not a local python-releases.toml: nothing to update")
        return {"path": None, "note": "no local python-releases.toml configured ([readiness] cycle)"}
    update = mark_released(path, release.version, release_day(release))
    for change in update.changes:
        ctx.log(change)
    return update.as_dict()


def schedule_steps() -> list[Step]:
    return [Step(SCHEDULE_MARK, "mark the release done, with its date, in the schedule data", mark_in_schedule,
                 deps=("post.push-upstream",), phase="schedule", probe=mark_probe, uses=("version",),
                 effects=(Effect(LOCAL, "python-releases.toml: the release marked actual"),))]


# ---- live posts --------------------------------------------------------------------------

def _live_action(milestone: str):
    def post(ctx: StepContext) -> dict[str, Any]:
        release = release_of(ctx)
        settings = release.settings.announce
        key = live_key(f"{release.settings.project}:{release.repo}:{release.version.text}", milestone)
        extra: dict[str, Any] = {}
        cycle = schedule_of(release)
        if milestone == "countdown" and cycle is not None:
            entry = cycle.release(release.version)
            if entry is not None:
                extra["countdown"] = countdown_phrase(entry, datetime.now(UTC).date())
        facts = facts_of(release, cycle)
        page = ctx.dep(PUBLISH_VERIFIED).get("release_page")
        if page:
            facts.release_page = page
        text = render_live_post(facts, milestone, settings, **extra)
        try:
            return post_live(milestone, text, key=key, settings=settings, feed=feed_path(release), env=os.environ)
        except RelmanError as error:                  # a live post never stops a release
            ctx.log(f"live post {milestone} failed: {error.message}")
            return {"milestone": milestone, "key": key, "posted": False, "error": error.message}
    return post


def _live_probe(milestone: str):
    def probe(ctx: StepContext) -> dict[str, Any] | None:
        release = release_of(ctx)
        key = live_key(f"{release.settings.project}:{release.repo}:{release.version.text}", milestone)
        found = already_posted(key, release.settings.announce, feed_path(release))
        return {"milestone": milestone, "key": key, "posted": False, "already": True} if found else None
    return probe


def live_enabled(params: Mapping[str, Any]) -> bool:
    return bool(params.get("live_posts"))


def live_steps(existing: Sequence[Step]) -> list[Step]:
    published_after = (PUBLISH_VERIFIED,) if any(s.id == PUBLISH_VERIFIED for s in existing) else ("post.push-upstream",)
    when = {"countdown": ((), "the release starts"),
            "tag-pushed": (("source.push-fork",), "the tag is pushed"),
            "builds-started": (("source.tag",), "the builds start"),
            "artifacts-ready": (BUILD_DONE, "the files are built and verified"),
            "published": (published_after, "the release is published")}
    return [Step(f"live.{name}", f"live post: {what}", _live_action(name), deps=deps, phase="live",
                 probe=_live_probe(name), condition=live_enabled, condition_text="only when live posts are on ([announce.live] enabled)",
                 uses=("version",), effects=(Effect(REMOTE, "a short post on the live channel"),))
            for name, (deps, what) in when.items()]


# ---- `relman announce` -------------------------------------------------------------------

def publish_state(journal_path: Path, key: str) -> tuple[int | None, bool, str | None]:
    """(run id, publishing verified?, work dir) of the latest run of this release, from its journal."""
    from ..engine.journal import DONE, Journal

    if not journal_path.is_file():
        return None, False, None
    journal = Journal(journal_path)
    try:
        run = journal.latest_run(key)
        if run is None:
            return None, False, None
        step = journal.steps(run.id).get(PUBLISH_VERIFIED)
        verified = step is not None and step.status == DONE and publishing_verified(step.outputs or {})
        return run.id, verified, run.params.get("work_dir")
    finally:
        journal.close()


def announce_release(version: str, repo: str | Path, *, state_dir: Path | None = None, out: Path | None = None,
                     when: date | None = None, send: bool = False, channels: list[str] | None = None,
                     env: Mapping[str, str] | None = None, config_file: Path | None = None) -> dict[str, Any]:
    """Write the drafts of a release (always) and, with `send`, send them — only once the
    release's run has verified its publishing."""
    from ..vcs import Git
    from .session import ReleaseSession

    session = ReleaseSession.open(version, repo, state_dir=state_dir, config_file=config_file)
    run_id, verified, work_dir = publish_state(session.db_path, session.key)
    release = Release(session.version, session.repo, session.settings, Git(session.repo),
                      Path(work_dir) if work_dir else session.work_dir)
    facts = facts_of(release)
    if when is not None:
        facts.release_date = when.isoformat()
    drafts = render_drafts(facts, release.settings.announce)
    folder = out or drafts_dir(release)
    written = write_drafts(drafts, folder)
    result: dict[str, Any] = {"version": release.version.text, "run_id": run_id, "publish_verified": verified,
                              "dir": str(folder), "drafts": {k: str(p) for k, p in written.items()},
                              "subject": drafts.subject, "mastodon_length": mastodon_length(drafts.mastodon), "sent": []}
    if not send:
        return result
    if not verified:
        from ..errors import UsageError

        where = f"run {run_id}" if run_id else "no run of this release in the journal"
        raise UsageError(f"refusing to send the announcement of {release.version}: publishing has not been verified "
                         f"({where}; step {PUBLISH_VERIFIED} is not done)",
                         hint=f"finish the release with `relman run {release.version}` first; the drafts are in {folder}")
    chosen = channels or list(release.settings.announce.channels)
    if not chosen:
        from ..errors import UsageError

        raise UsageError("no channel to send to", where="[announce] channels",
                         hint="name them in relman.toml or with --channel email,mastodon,discourse")
    result["sent"] = send_announcement(folder, chosen, release.settings.announce, version=release.version.text,
                                       env=env if env is not None else os.environ)
    return result
