"""`relman schedule next|json|ics|done`: the release calendar, from CPython's schedule data."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from ..errors import UsageError
from ..schedule.cycle import DEFAULT_CYCLE_URL, ReleaseCycle, countdown_phrase, load_cycle, resolve_source
from .common import RelmanGroup, emit_json, json_option

GROUP_HELP = """The release schedule: what comes next, release-cycle.json, the calendar.

\b
The data is CPython's `python-releases.toml` (metadata per X.Y and every release with its
stage and date) or a `release-cycle.json`. It comes from --data, else from [readiness] cycle
in the repository's relman.toml, else from https://peps.python.org/api/release-cycle.json.

\b
Examples:
  relman schedule next --data python-releases.toml
  relman schedule json --data python-releases.toml > release-cycle.json
  relman schedule ics --data python-releases.toml -o release-schedule.ics
  relman schedule done 3.14.1 --date 2025-12-02 --data python-releases.toml

\b
Exit codes: 0 done; 2 bad input (invalid data is reported with the file and entry).
"""


def data_source(data: str | None, repo: Path) -> str:
    """--data, else the repository's configured schedule (relative to it), else CPython's public one."""
    if data:
        return data
    try:
        from ..config import load_settings

        configured = load_settings(repo).readiness.cycle
    except UsageError:
        configured = None
    return resolve_source(configured, repo) if configured else DEFAULT_CYCLE_URL


def _data_options(func):
    func = click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".",
                        help="Repository whose relman.toml [readiness] cycle names the data.")(func)
    func = click.option("--offline", is_flag=True, help="Use the cached copy of a URL; never fetch it.")(func)
    return click.option("--data", metavar="FILE-or-URL",
                        help="python-releases.toml, release-cycle.json or a URL.")(func)


def _load(data: str | None, repo: Path, offline: bool) -> ReleaseCycle:
    cycle = load_cycle(data_source(data, repo), offline=offline)
    for warning in cycle.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    return cycle


def _today(value: str | None) -> date:
    if not value:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--today {value!r} is not a date", hint="use YYYY-MM-DD") from None


@click.group("schedule", cls=RelmanGroup, help=GROUP_HELP, context_settings={"help_option_names": ["-h", "--help"]})
def schedule_group() -> None:
    pass


@schedule_group.command("next")
@_data_options
@click.option("--today", metavar="YYYY-MM-DD", help="Count down from this day instead of today (UTC).")
@click.option("--all", "include_inactive", is_flag=True, help="Include end-of-life branches.")
@json_option
def next_command(data: str | None, repo: Path, offline: bool, today: str | None, include_inactive: bool,
                 as_json: bool) -> None:
    """What comes next on each branch, with countdowns ("One week left until 3.14.0 final")."""
    cycle = _load(data, repo, offline)
    day = _today(today)
    upcoming = cycle.upcoming(day, include_inactive=include_inactive)
    if as_json:
        emit_json({"today": day.isoformat(), "source": cycle.source, "stale": cycle.stale,
                   "upcoming": [{"branch": info.branch, "series": info.version, "status": info.status,
                                 "release_manager": info.release_manager, **release.as_dict(),
                                 "days": (release.date - day).days, "countdown": countdown_phrase(release, day)}
                                for info, release in upcoming]})
        return
    if not upcoming:
        has_dates = any(b.releases for b in cycle.branches.values())
        click.echo("no expected release in the schedule data" if has_dates else
                   f"{cycle.source} has no release dates (release-cycle.json lists branches only); "
                   "give a python-releases.toml with --data")
        return
    for info, release in upcoming:
        rm = f" — RM {info.release_manager}" if info.release_manager else ""
        note = f" ({release.note})" if release.note else ""
        click.echo(f"{countdown_phrase(release, day)}: {release.date.isoformat()}, branch {info.branch} "
                   f"[{info.status}]{rm}{note}")


@schedule_group.command("json")
@_data_options
@click.option("--full", is_flag=True, help="The full dump (python-releases.json shape) instead of release-cycle.json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def json_command(data: str | None, repo: Path, offline: bool, full: bool, output: Path | None) -> None:
    """Print release-cycle.json, exactly as CPython publishes it (or --full)."""
    import json

    cycle = _load(data, repo, offline)
    text = (json.dumps(cycle.full_json(), indent=2, ensure_ascii=False) + "\n") if full else cycle.release_cycle_text()
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


@schedule_group.command("ics")
@_data_options
@click.option("--since", metavar="YYYY-MM-DD", help="Only releases on or after this day.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def ics_command(data: str | None, repo: Path, offline: bool, since: str | None, output: Path | None) -> None:
    """The calendar (iCalendar): one event per release, actual and expected."""
    from ..schedule.calendar import release_calendar_bytes

    cycle = _load(data, repo, offline)
    if not any(b.releases for b in cycle.branches.values()):
        raise UsageError(f"{cycle.source} has no release dates: a calendar needs python-releases.toml data",
                         hint="give --data python-releases.toml")
    body = release_calendar_bytes(cycle, since=_today(since) if since else None)
    if output:
        output.write_bytes(body)
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()


@schedule_group.command("done")
@click.argument("version")
@click.option("--data", metavar="FILE", required=True, help="The python-releases.toml to update.")
@click.option("--date", "when", metavar="YYYY-MM-DD", help="The real release date (default: today, UTC).")
@json_option
def done_command(version: str, data: str, when: str | None, as_json: bool) -> None:
    """Mark a release done in the schedule data, with its real date (what the release does itself)."""
    from ..schedule.update import mark_released

    update = mark_released(Path(data), version, _today(when))
    if as_json:
        emit_json(update.as_dict())
        return
    if not update.changed:
        click.echo(f"{update.path}: {update.version} already recorded as released on {update.date}")
    for change in update.changes:
        click.echo(f"{update.path}: {change}")


COMMANDS = [schedule_group]
