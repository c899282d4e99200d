"""`relman schedule`: release-cycle.json, the calendar, countdowns, validation, marking a release done."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli
from relman.errors import UsageError
from relman.schedule.calendar import release_calendar_bytes
from relman.schedule.cycle import countdown_phrase, load_cycle, parse_cycle
from relman.schedule.update import mark_released, released_in, stage_label
from relman.version import Version

DATA = Path(__file__).parent / "data" / "python-releases.toml"

# Written by hand from the notes (§3.3: the published document for these versions).
EXPECTED_3_14 = {"branch": "3.14", "pep": 745, "status": "bugfix", "first_release": "2025-10-07",
                 "end_of_life": "2030-10", "release_manager": "Hugo van Kemenade"}
EXPECTED_3_13 = {"branch": "3.13", "pep": 719, "status": "bugfix", "first_release": "2024-10-07",
                 "end_of_life": "2029-10", "release_manager": "Thomas Wouters"}


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_release_cycle_json_equals_the_published_shape() -> None:
    doc = load_cycle(DATA).release_cycle_json()
    assert doc["3.14"] == EXPECTED_3_14
    assert doc["3.13"] == EXPECTED_3_13
    assert list(doc["3.14"]) == ["branch", "pep", "status", "first_release", "end_of_life", "release_manager"]
    # newest first release first (2.7 came out after 3.1), nothing before 2.6
    assert list(doc) == ["3.16", "3.15", "3.14", "3.13", "3.12", "3.9", "2.7", "3.1"]
    # an end-of-life version keeps its full end-of-life date
    assert doc["3.9"]["end_of_life"] == "2025-10-31" and doc["3.16"]["end_of_life"] == "2032-10"


def test_schedule_json_command_prints_the_exact_text() -> None:
    result = run("schedule", "json", "--data", str(DATA))
    assert result.exit_code == 0, result.output
    assert result.output.endswith("}\n")
    parsed = json.loads(result.output)
    assert parsed["3.13"] == EXPECTED_3_13 and parsed["3.14"] == EXPECTED_3_14
    assert result.output == json.dumps(parsed, indent=2, ensure_ascii=False) + "\n"
    assert "Łukasz Langa" in result.output                     # real UTF-8, not \u0141


def test_release_cycle_json_round_trips_through_the_loader(tmp_path: Path) -> None:
    out = tmp_path / "release-cycle.json"
    assert run("schedule", "json", "--data", str(DATA), "-o", str(out)).exit_code == 0
    again = load_cycle(out)
    assert again.release_cycle_json() == load_cycle(DATA).release_cycle_json()
    # the version model reads the branch status from it: 3.12 is security-only, 3.14 is not
    assert Version.parse("3.12.9").is_security_release(again.release_cycle_json())
    assert not Version.parse("3.14.2").is_security_release(again.release_cycle_json())


def test_full_json_has_every_release() -> None:
    result = run("schedule", "json", "--full", "--data", str(DATA))
    full = json.loads(result.output)
    assert [r["stage"] for r in full["releases"]["3.13"]] == ["3.13.0 alpha 1", "3.13.0 final", "3.13.15", "3.13.16"]
    assert full["metadata"]["3.14"]["feature_freeze"] == "2025-05-07"
    assert full["releases"]["3.14"][9] == {"stage": "3.14.5 candidate 1", "state": "actual", "date": "2026-05-04",
                                           "note": "ad hoc candidate"}


def test_ics_parsed_back_by_icalendar() -> None:
    from icalendar import Calendar

    cycle = load_cycle(DATA)
    body = release_calendar_bytes(cycle, now=datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    cal = Calendar.from_ical(body)
    events = list(cal.walk("VEVENT"))
    releases = [r for b in cycle.branches.values() for r in b.releases]
    assert len(events) == len(releases) == 17
    by_summary = {str(e["SUMMARY"]): e for e in events}
    final = by_summary["Python 3.14.0 final"]
    assert final.decoded("DTSTART") == date(2025, 10, 7)
    assert str(final["UID"]) == "python-3.14.0final@releases.python.org"
    assert str(final["URL"]) == "https://peps.python.org/pep-0745/"
    assert "DTEND" not in final
    assert by_summary["Python 3.13.16"].decoded("DTSTART") == date(2026, 10, 6)
    assert str(by_summary["Python 3.14.5 candidate 1"]["DESCRIPTION"]) == "Note: ad hoc candidate"
    starts = [e.decoded("DTSTART") for e in events]
    assert starts == sorted(starts) and starts[0] == date(2023, 10, 13)
    assert str(cal["X-WR-CALNAME"]) == "Python releases schedule"


def test_ics_command_writes_a_calendar(tmp_path: Path) -> None:
    from icalendar import Calendar

    out = tmp_path / "release-schedule.ics"
    result = run("schedule", "ics", "--data", str(DATA), "--since", "2026-01-01", "-o", str(out))
    assert result.exit_code == 0, result.output
    events = list(Calendar.from_ical(out.read_bytes()).walk("VEVENT"))
    assert sorted(str(e["SUMMARY"]) for e in events) == ["Python 3.13.15", "Python 3.13.16", "Python 3.14.14",
                                                         "Python 3.14.5 candidate 1", "Python 3.14.7", "Python 3.14.8"]


@pytest.mark.parametrize("today,phrase", [
    (date(2026, 9, 29), "One week left until 3.14.8"),
    (date(2026, 10, 3), "3 days until 3.14.8"),
    (date(2026, 10, 5), "One day left until 3.14.8"),
    (date(2026, 10, 6), "3.14.8 is due today"),
    (date(2026, 9, 15), "3 weeks left until 3.14.8"),
])
def test_countdown_phrases(today: date, phrase: str) -> None:
    info = load_cycle(DATA).find("3.14")
    assert countdown_phrase(info.next_release(today), today) == phrase


def test_countdown_to_a_final_uses_the_stage_label(tmp_path: Path) -> None:
    text = DATA.read_text().replace('stage = "3.14.0 final"\nstate = "actual"', 'stage = "3.14.0 final"\nstate = "expected"')
    cycle = parse_cycle(text, "x.toml")
    nxt = cycle.find("3.14").next_release(date(2025, 9, 30))
    assert countdown_phrase(nxt, date(2025, 9, 30)) == "One week left until 3.14.0 final"


def test_next_command_lists_every_branch_soonest_first() -> None:
    result = run("schedule", "next", "--data", str(DATA), "--today", "2026-10-03", "--json")
    doc = json.loads(result.output)
    assert [(u["series"], u["stage"], u["days"]) for u in doc["upcoming"]] == [("3.13", "3.13.16", 3),
                                                                                ("3.14", "3.14.8", 3)]
    assert doc["upcoming"][1]["countdown"] == "3 days until 3.14.8"
    plain = run("schedule", "next", "--data", str(DATA), "--today", "2026-10-03")
    assert "3 days until 3.13.16: 2026-10-06, branch 3.13 [bugfix] — RM Thomas Wouters" in plain.output


@pytest.mark.parametrize("old,new,words", [
    ('stage = "3.14.7"', 'stage = "3.14.7 gamma 1"', "unknown stage 'gamma'"),
    ('stage = "3.14.8"', 'stage = "3.14.eight"', "version '3.14.eight' does not parse"),
    ('date = 2026-08-05\n\n[[release."3.14"]]\nstage = "3.14.8"', 'date = 2026-11-05\n\n[[release."3.14"]]\nstage = "3.14.8"',
     "dates out of order: 3.14.8 on 2026-10-06 comes before 3.14.7 on 2026-11-05"),
    ('stage = "3.13.15"', 'stage = "3.12.15"', "3.12.15 is not a 3.13 release"),
    ('status = "security"', 'status = "retired"', "unknown branch status 'retired'"),
    ('state = "expected"\ndate = 2027-10-05', 'state = "planned"\ndate = 2027-10-05', "unknown state 'planned'"),
])
def test_invalid_data_names_file_line_and_entry(tmp_path: Path, old: str, new: str, words: str) -> None:
    bad = tmp_path / "python-releases.toml"
    source = DATA.read_text()
    assert old in source
    bad.write_text(source.replace(old, new, 1))
    with pytest.raises(UsageError) as caught:
        load_cycle(bad)
    assert words in str(caught.value)
    assert f"{bad}:" in str(caught.value)                      # the file (and the line) is named
    result = CliRunner().invoke(cli, ["schedule", "json", "--data", str(bad)])
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "python-releases.toml"
    bad.write_text(DATA.read_text().replace('stage = "3.14.7"', 'stage = "3.14.7 gamma 1"')
                   .replace('stage = "3.13.15"', 'stage = "3.13.x"'))
    with pytest.raises(UsageError) as caught:
        load_cycle(bad)
    text = str(caught.value)
    assert "unknown stage 'gamma'" in text and "'3.13.x' does not parse" in text
    line = bad.read_text().splitlines().index('stage = "3.14.7 gamma 1"') + 1
    assert f"{bad}:{line}: [[release.\"3.14\"]] entry 11" in text


def test_mark_released_records_the_real_date_and_keeps_the_layout(tmp_path: Path) -> None:
    data = tmp_path / "python-releases.toml"
    shutil.copy(DATA, data)
    assert released_in(data, Version.parse("3.14.8")) is None
    update = mark_released(data, "3.14.8", date(2026, 10, 7))
    assert update.changes == ["3.14.8: expected → actual", "3.14.8: date 2026-10-06 → 2026-10-07"]
    assert released_in(data, Version.parse("3.14.8")) == date(2026, 10, 7)
    text = data.read_text()
    assert text.startswith("# Schedule data in python/peps")            # comments kept
    assert text.replace('state = "actual"\ndate = 2026-10-07', 'state = "expected"\ndate = 2026-10-06') == DATA.read_text()
    # again: nothing to do, the file is untouched
    assert not mark_released(data, "3.14.8", date(2026, 10, 7)).changed
    assert data.read_text() == text
    # the next release is now 3.14.14
    assert load_cycle(data).find("3.14").next_release(date(2026, 10, 8)).stage == "3.14.14"


def test_mark_released_adds_an_unscheduled_release_and_moves_the_series(tmp_path: Path) -> None:
    data = tmp_path / "python-releases.toml"
    shutil.copy(DATA, data)
    update = mark_released(data, Version.parse("3.16.0b1"), date(2027, 5, 4))
    assert update.changes == ["added 3.16.0 beta 1 (not in the schedule) as released on 2027-05-04",
                              "3.16: status feature → prerelease", "3.16: branch main → 3.16"]
    info = load_cycle(data).find("3.16")
    assert (info.status, info.branch) == ("prerelease", "3.16")
    assert [(r.stage, r.state, r.date) for r in info.releases] == [("3.16.0 beta 1", "actual", date(2027, 5, 4))]
    assert stage_label(Version.parse("3.14.0")) == "3.14.0 final" and stage_label(Version.parse("3.14.2")) == "3.14.2"


def test_schedule_done_command(tmp_path: Path) -> None:
    data = tmp_path / "python-releases.toml"
    shutil.copy(DATA, data)
    result = run("schedule", "done", "3.13.16", "--date", "2026-10-06", "--data", str(data), "--json")
    assert json.loads(result.output)["changes"] == ["3.13.16: expected → actual"]
    bad = CliRunner().invoke(cli, ["schedule", "done", "3.11.1", "--data", str(data)])
    assert bad.exit_code == 2 and "no [metadata.\"3.11\"]" in bad.output
