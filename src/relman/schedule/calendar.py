"""The release calendar: one all-day event per release of the schedule, as iCalendar (RFC 5545).

The events follow the facts of CPython's published `release-schedule.ics`: the summary is
"Python <stage>", the UID is "python-<stage without spaces>@releases.python.org", the event
is dated with DTSTART as a DATE and nothing else, a note becomes "Note: …" in the
description, and the URL is the release-schedule PEP. Built with `icalendar`, which does the
escaping and line folding.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import Calendar, Event

from .cycle import ReleaseCycle

PRODID = "-//relman//Python release schedule//EN"
CALNAME = "Python releases schedule"


def pep_url(pep: int | None) -> str | None:
    return f"https://peps.python.org/pep-{pep:04d}/" if pep else None


def release_calendar(cycle: ReleaseCycle, *, now: datetime | None = None, since: date | None = None) -> Calendar:
    """One VEVENT per release (actual and expected), sorted by date; `since` drops older ones."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", CALNAME)
    cal.add("x-wr-caldesc", f"Python releases schedule from {cycle.source or 'relman'}")
    rows = [(r, info) for info in cycle.branches.values() for r in info.releases]
    for release, info in sorted(rows, key=lambda pair: (pair[0].date, pair[0].stage)):
        if since is not None and release.date < since:
            continue
        event = Event()
        event.add("dtstamp", stamp)
        event.add("uid", f"python-{release.stage.replace(' ', '')}@releases.python.org")
        event.add("dtstart", release.date)
        event.add("summary", f"Python {release.stage}")
        if release.note:
            event.add("description", f"Note: {release.note}")
        url = pep_url(info.pep)
        if url:
            event.add("url", url)
        cal.add_component(event)
    return cal


def release_calendar_bytes(cycle: ReleaseCycle, *, now: datetime | None = None, since: date | None = None) -> bytes:
    return release_calendar(cycle, now=now, since=since).to_ical()
