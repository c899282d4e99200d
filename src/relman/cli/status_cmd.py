"""`relman status`: the readiness verdict per branch, with its evidence."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from ..readiness import Verdict
from ..readiness.severity import Severity
from ..readiness.sources import ReadinessSources, assess_sources
from .common import emit_json, json_option, state_option

_COLOURS = {"Releasable": "green", "Concern": "yellow", "Unreleasable": "red", "N/A": "bright_black"}
_SYMBOLS = {"Releasable": "✔", "Concern": "⚠", "Unreleasable": "✘", "N/A": "–"}


@click.command("status")
@click.option("--buildbot", "buildbot_url", metavar="URL", help="Buildbot master (web root or /api/v2).")
@click.option("--tracker", metavar="URL", help="Issue tracker: OWNER/REPO, https://github.com/OWNER/REPO, "
                                               "or an API URL ending in /repos/OWNER/REPO.")
@click.option("--cycle", metavar="FILE-or-URL", help="Schedule data: python-releases.toml or release-cycle.json.")
@click.option("--branch", "branches", multiple=True, metavar="B",
              help="Only this branch (3.14, main, 3.x); repeatable.")
@click.option("--version", "version", metavar="V", help="Judge for this release (blocker stage rules); "
                                                         "default: the next one in the schedule.")
@click.option("--idle-days", type=float, help="Builders idle longer than this are reported, not blocking (default 14).")
@state_option
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".",
              help="Repository whose relman.toml [readiness] gives the defaults.")
@click.option("--offline", is_flag=True, help="Use the cached schedule data; never fetch it.")
@click.option("-v", "--verbose", is_flag=True, help="List every problem with its evidence.")
@json_option
def status_command(buildbot_url: str | None, tracker: str | None, cycle: str | None, branches: tuple[str, ...],
                   version: str | None, idle_days: float | None, state_dir: Path | None, repo: Path, offline: bool,
                   verbose: bool, as_json: bool) -> None:
    """Is each branch releasable? One verdict per branch: Releasable, Concern, Unreleasable or N/A.

    The verdict follows CPython's release dashboard (tier-1/2 stable builders block, failure
    streaks, warnings, disconnected builders), adds release-blocker and deferred-blocker
    issues from the tracker and the waivers recorded with `relman waive`. Flags override
    the [readiness] settings of relman.toml.

    \b
    Examples:
      relman status --buildbot https://buildbot.python.org/all/ --cycle python-releases.toml
      relman status --buildbot http://127.0.0.1:8010/ --tracker python/cpython --branch 3.14
      relman status --branch main --version 3.15.0b1 --json

    \b
    Exit codes: 0 judged (whatever the verdicts, when no --branch is given);
    1 a branch named with --branch is Unreleasable, or a source could not be read;
    2 bad input.
    """
    from ..config import load_settings

    sources = ReadinessSources.resolve(load_settings(repo).readiness, repo=repo, buildbot=buildbot_url,
                                       tracker=tracker, cycle=cycle, idle_days=idle_days, state_dir=state_dir).require()
    verdicts = assess_sources(sources, list(branches) or None, version=version, offline=offline)
    if as_json:
        emit_json([v.as_dict() for v in verdicts])
    else:
        _render(verdicts, verbose)
    if branches and any(v.verdict == "Unreleasable" for v in verdicts):
        bad = ", ".join(v.branch for v in verdicts if v.verdict == "Unreleasable")
        if as_json:
            raise click.exceptions.Exit(CheckFailed.exit_code)
        raise CheckFailed(f"unreleasable: {bad}", hint="fix the problems above, or record a waiver with `relman waive`")


def _render(verdicts: list[Verdict], verbose: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for verdict in verdicts:
        colour = _COLOURS[verdict.verdict]
        title = f"[bold]{verdict.branch}[/bold]"
        if verdict.status:
            title += f"  ({verdict.status})"
        title += f"  [{colour}]{_SYMBOLS[verdict.verdict]} {verdict.verdict}[/{colour}]"
        if verdict.version:
            title += f"  for {verdict.version}"
        table = Table(title=title, title_justify="left", show_header=True, header_style="bold", expand=False)
        table.add_column("problem")
        table.add_column("count", justify="right")
        table.add_column("evidence")
        for group in verdict.groups:
            gcolour = _COLOURS[group.severity.verdict]
            first = group.problems[0]
            table.add_row(f"[{gcolour}]{group.description}[/{gcolour}]", str(group.count), _evidence_line(first, group))
            if verbose:
                for problem in group.problems:
                    table.add_row("", "", _problem_line(problem))
        console.print(table)
        if verdict.featured_problem is not None and verdict.featured_problem.effective_severity > Severity.NO_PROBLEM:
            console.print(f"  featured: {_problem_line(verdict.featured_problem)}")
        for waiver in verdict.waivers:
            console.print(f"  waiver {waiver.id}: {waiver.target} by {waiver.who} until {waiver.until}: {waiver.why}")
        if verdict.countdown:
            console.print(f"  next: {verdict.countdown}")
        console.print()


def _problem_line(problem) -> str:
    who = problem.builder or (f"#{problem.issue}" if problem.issue is not None else "")
    links = " ".join(f"{e.label.lower()} #{e.build} {e.when or ''} {e.url or ''}".strip()
                     if e.build is not None else (e.url or "") for e in problem.evidence)
    return f"{who}: {problem.detail} {links}".strip()


def _evidence_line(problem, group) -> str:
    if problem.kind == "no_problem":
        return ""
    names = [p.builder or f"#{p.issue}" for p in group.problems[:3]]
    more = f" +{group.count - 3}" if group.count > 3 else ""
    return ", ".join(n for n in names if n) + more


COMMANDS = [status_command]
