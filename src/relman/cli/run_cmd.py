"""`relman plan`, `run`, `runs`, `show`, `report`: the release and its journal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..announce.diary import FORMATS, render_diary
from ..engine.journal import Journal
from ..engine.runner import ApprovalPolicy
from ..errors import UsageError
from ..release.session import ReleaseSession, default_state_dir
from .common import emit_json, json_option

repo_option = click.option("--repo", "-r", default=".", show_default=True, type=click.Path(file_okay=False),
                           help="The git checkout to release from.")
config_option = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                             help="Use this TOML file instead of the repository's relman.toml.")
state_option = click.option("--state", "state_dir", type=click.Path(file_okay=False), default=None,
                            help="Folder holding the journal (default: $RELMAN_STATE_DIR or ~/.local/state/relman).")


def _state(state_dir: str | None) -> Path:
    return Path(state_dir) if state_dir else default_state_dir()


def _open_journal(state_dir: str | None) -> Journal:
    path = _state(state_dir) / "relman.db"
    if not path.exists():
        raise UsageError(f"no journal at {path}", hint="run a release first, or pass --state DIR")
    return Journal(path)


@click.command("plan")
@click.argument("version")
@repo_option
@config_option
@state_option
@json_option
def plan_command(version: str, repo: str, config_file: str | None, state_dir: str | None, as_json: bool) -> None:
    """Show the release DAG for VERSION without doing anything.

    Every step with its dependencies, whether it applies to this version, its effects
    (local / remote / irreversible) and the gate a person must approve.

    \b
    Example:
      relman plan 3.14.0rc1 --repo ~/cpython
    """
    session = ReleaseSession.open(version, repo, state_dir=_state(state_dir), config_file=config_file)
    plan = session.plan()
    rows = plan.describe()
    if as_json:
        emit_json({"version": session.version.text, "repo": str(session.repo), "steps": rows})
        return
    click.echo(f"Release plan for {session.version.long_name} from {session.repo} ({len(rows)} steps)\n")
    phase = None
    for row in rows:
        if row["phase"] != phase:
            phase = row["phase"]
            click.secho(f"{phase}", bold=True)
        mark = "  " if row["applies"] else "⏭ "
        click.echo(f"  {mark}{row['id']:<30} {row['description']}")
        if row["deps"]:
            click.secho(f"      after: {', '.join(row['deps'])}", dim=True)
        if not row["applies"]:
            click.secho(f"      skipped: {row['condition']}", dim=True)
        for effect in row["effects"]:
            click.secho(f"      effect ({effect['kind']}): {effect['what']}",
                        fg="red" if effect["kind"] == "irreversible" else None)
        if row["gate"]:
            click.secho(f"      ⏸ gate {row['gate']['id']}: {row['gate']['question']}", fg="yellow")


@click.command("run")
@click.argument("version")
@repo_option
@config_option
@state_option
@click.option("--yes", "-y", "approve_all", is_flag=True, help="Approve every gate (recorded as approved by flag).")
@click.option("--approve", "approve", default="", metavar="GATE,…", help="Approve these gates (comma-separated).")
@click.option("--fresh", is_flag=True, help="Start a new run even if one exists for this release.")
@click.option("--accept-changes", is_flag=True, help="Resume even though inputs changed since the run started.")
@click.option("--no-input", is_flag=True, help="Never prompt; an unapproved gate pauses the run (exit 3).")
@click.option("--jobs", "-j", default=8, show_default=True, help="Steps run in parallel at most.")
@click.option("--executor", type=click.Choice(["local", "buildbot"]), default=None,
              help="Where build jobs run (overrides [build] executor).")
@click.option("--buildbot-url", default=None, help="The Buildbot master for --executor buildbot.")
@click.option("--wait-for-gates", "wait_minutes", type=click.FloatRange(0), default=0.0, metavar="MINUTES",
              help="When only unanswered gates are left, keep the run alive this long for a decision made in "
                   "the web app (relman serve) or another terminal, instead of pausing at once.")
@json_option
def run_command(version: str, repo: str, config_file: str | None, state_dir: str | None, approve_all: bool, approve: str, fresh: bool,
                accept_changes: bool, no_input: bool, jobs: int, executor: str | None, buildbot_url: str | None,
                wait_minutes: float, as_json: bool) -> None:
    """Run the release of VERSION, or resume it where it stopped.

    Every step is journaled; running the same command again resumes by step id, never
    repeating a finished step. Gates are answered interactively on a terminal, or by
    --yes / --approve; without an answer the run pauses (exit 3) and resumes later.

    \b
    Examples:
      relman run 3.14.0rc1 --repo ~/cpython
      relman run 3.14.0rc1 --repo ~/cpython --approve push-fork,push-upstream --no-input
    """
    build = {k: v for k, v in (("executor", executor), ("buildbot_url", buildbot_url)) if v}
    session = ReleaseSession.open(version, repo, state_dir=_state(state_dir), config_file=config_file,
                                  overrides={"build": build} if build else None)
    interactive = sys.stdin.isatty() and not no_input and not as_json
    policy = ApprovalPolicy(approve_all=approve_all, approve=frozenset(g.strip() for g in approve.split(",") if g.strip()),
                            policy=frozenset(session.settings.gates.policy),
                            policy_name=session.settings.gates.policy_name, interactive=interactive,
                            wait_s=wait_minutes * 60)
    result = session.run(approvals=policy, fresh=fresh, accept_changes=accept_changes, as_json=as_json,
                         max_parallel=jobs)
    if as_json:
        emit_json({"run_id": result.run_id, "version": session.version.text, "status": result.status,
                   "state_db": str(session.db_path), "failed": result.failed,
                   "paused": [{"step": s, "gate": g} for s, g in result.paused],
                   "steps": {sid: row.status for sid, row in result.steps.items()}, "wall_s": round(result.wall_s, 3)})
    elif result.wall_s == 0.0 and result.status == "done":
        click.echo(f"release {session.version} already finished (run {result.run_id}); use --fresh to start again")
    sys.exit(result.exit_code)


@click.command("runs")
@state_option
@json_option
def runs_command(state_dir: str | None, as_json: bool) -> None:
    """List the runs in the journal, newest last."""
    journal = _open_journal(state_dir)
    runs = journal.runs()
    if as_json:
        emit_json([r.as_dict() for r in runs])
        return
    for r in runs:
        steps = journal.steps(r.id)
        done = sum(1 for s in steps.values() if s.status in ("done", "skipped"))
        click.echo(f"{r.id:>4}  {r.params.get('version', '?'):<12} {r.status:<11} {done}/{len(steps)} steps  {r.key}")


@click.command("show")
@click.argument("run_id", type=int)
@state_option
@json_option
def show_command(run_id: int, state_dir: str | None, as_json: bool) -> None:
    """Show one run's steps: status, timing, attempts, errors."""
    journal = _open_journal(state_dir)
    run = journal.get_run(run_id)
    steps = journal.steps(run_id)
    broken = journal.verify_chain(run_id)
    if as_json:
        emit_json({"run": run.as_dict(), "steps": [s.as_dict() for s in steps.values()],
                   "approvals": list(journal.approvals(run_id).values()), "chain_ok": not broken,
                   "chain_broken_at": broken})
        return
    from ..engine.display import ICONS
    from ..release.remote_build import worker_lines

    click.echo(f"run {run.id}: {run.params.get('version')} — {run.status}")
    for s in steps.values():
        took = f"{s.duration_s:.2f} s" if s.duration_s is not None else ""
        click.echo(f"  {ICONS.get(s.status, '?')} {s.step_id:<32} {took:>9}  {s.description}")
        for line in worker_lines(s.outputs or {}):     # who built it, on remote build workers
            click.echo(f"      {line}")
        if s.error:
            click.secho("      " + s.error.replace("\n", "\n      "), fg="red")
    click.echo("journal chain: " + ("intact" if not broken else f"BROKEN at event(s) {broken}"))
    if broken:
        sys.exit(1)


@click.command("report")
@click.argument("run_id", type=int)
@state_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="md: the story; svg: the timeline; html: both; json: the facts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to a file.")
def report_command(run_id: int, state_dir: str | None, fmt: str, output: str | None) -> None:
    """The release diary of a run: its story by milestone, a timeline, gates, waits and incidents."""
    journal = _open_journal(state_dir)
    text = render_diary(journal, run_id, fmt)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


COMMANDS = [plan_command, run_command, runs_command, show_command, report_command]
