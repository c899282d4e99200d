"""`relman waive`: accept a known problem (a builder or an issue) for a while, on the record."""

from __future__ import annotations

import getpass
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import UsageError
from ..readiness.waivers import WaiverStore, parse_until
from .common import emit_json, json_option, state_option


def _default_who() -> str:
    return os.environ.get("RELMAN_USER") or os.environ.get("GIT_AUTHOR_NAME") or getpass.getuser()


@click.command("waive")
@click.option("--builder", metavar="NAME", help="Waive this builder's problems (its exact Buildbot name).")
@click.option("--issue", type=int, metavar="N", help="Waive this release-blocker or deferred-blocker issue.")
@click.option("--why", metavar="TEXT", help="Why it is acceptable (shown next to the evidence).")
@click.option("--until", "until", metavar="WHEN", help="Expiry: 2026-12-01, an ISO time, or 36h / 3d / 2w.")
@click.option("--who", metavar="NAME", help="Who accepts it (default $RELMAN_USER, else your user name).")
@click.option("--branch", metavar="B", help="Only for this branch (3.14, main); default every branch.")
@click.option("--list", "list_", is_flag=True, help="List waivers in force.")
@click.option("--all", "all_", is_flag=True, help="With --list: expired waivers too.")
@click.option("--revoke", metavar="ID", help="Remove the waiver with this id.")
@state_option
@json_option
def waive_command(builder: str | None, issue: int | None, why: str | None, until: str | None, who: str | None,
                  branch: str | None, list_: bool, all_: bool, revoke: str | None, state_dir: Path | None,
                  as_json: bool) -> None:
    """Record who accepts a known problem, why, and until when.

    A waived builder or issue stays visible in `relman status` with its waiver, but no
    longer makes the branch a Concern or Unreleasable. When the waiver expires it stops
    counting by itself (it stays in the file as history).

    \b
    Examples:
      relman waive --builder "AMD64 Fedora 3.14" --why "flaky test, gh-12345" --until 3d
      relman waive --issue 98765 --branch 3.14 --why "fix lands in rc2" --until 2026-10-01 --who "Hugo"
      relman waive --list
      relman waive --revoke 1a2b3c
    """
    store = WaiverStore(state_dir)
    now = datetime.now(tz=timezone.utc)
    if list_:
        waivers = store.load() if all_ else store.active(now)
        if as_json:
            emit_json([dict(w.as_dict(), in_force=w.in_force(now)) for w in waivers])
            return
        if not waivers:
            click.echo("no waivers in force" if not all_ else "no waivers recorded")
        for w in waivers:
            state = "" if w.in_force(now) else "  (expired)"
            scope = f" [{w.branch}]" if w.branch else ""
            click.echo(f"{w.id}  {w.target}{scope}  by {w.who} until {w.until}{state}\n        {w.why}")
        return
    if revoke:
        waiver = store.revoke(revoke)
        if as_json:
            emit_json({"revoked": waiver.as_dict()})
        else:
            click.echo(f"revoked {waiver.id} ({waiver.target})")
        return
    if bool(builder) == (issue is not None):
        raise UsageError("name exactly one thing to waive", hint='--builder "AMD64 Fedora 3.14" or --issue 12345')
    if not why:
        raise UsageError("a waiver needs a reason", hint='--why "flaky since the runner upgrade, gh-12345"')
    if not until:
        raise UsageError("a waiver needs an expiry", hint="--until 2026-12-01 or --until 3d")
    target = f"builder:{builder}" if builder else f"issue:{issue}"
    waiver = store.add(target, who=who or _default_who(), why=why, until=parse_until(until, now=now),
                       branch=branch, now=now)
    if as_json:
        emit_json(waiver.as_dict())
    else:
        click.echo(f"waiver {waiver.id}: {waiver.target} by {waiver.who} until {waiver.until} ({store.path})")


COMMANDS = [waive_command]
