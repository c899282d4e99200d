"""`relman plan`, `run`, `runs`, `show`, `report`: the release and its journal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..announce.diary import FORMATS, render_diary
from ..engine.journal import Journal
from ..engine.runner import ApprovalPolicy
from ..errors import UsageError
from ..release.recovery import failure_hint
from ..release.session import ReleaseSession, default_state_dir
from ..release.summary import summarize_run
from .common import emit_json, json_option, steps_json

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
        demo = Path("build/demo/state")   # where `make demo` (relman demo's default --dir) keeps its journal
        hint = (f"the demo keeps its own journal: pass --state {demo}" if state_dir is None
                and (demo / "relman.db").exists() else "run a release first, or pass --state DIR")
        raise UsageError(f"no journal at {path}", hint=hint)
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
    session = ReleaseSession.open(version, repo, state_dir=_state(state_dir),
                                  config_file=Path(config_file) if config_file else None)
    plan = session.plan()
    rows = plan.describe()
    if as_json:
        emit_json({"version": session.version.text, "repo": str(session.repo), "profile": session.settings.profile,
                   "steps": rows})
        return
    click.echo(f"Release plan for {session.version.long_name} from {session.repo} "
               f"(profile {session.settings.profile}, {len(rows)} steps)\n")
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
@click.option("--run", "run_id", type=int, default=None, metavar="N",
              help="Resume run N of this release (default: the latest; an abandoned run is never resumed).")
@click.option("--redo", default=None, metavar="STEP",
              help="Run STEP again and every step after it (e.g. source.release-commit to re-commit and re-tag "
                   "after a fix).")
@click.option("--accept-changes", is_flag=True, help="Resume even though inputs changed since the run started: each affected step "
                   "keeps its result (re-stamped) or re-runs, once.")
@click.option("--no-input", is_flag=True, help="Never prompt; an unapproved gate pauses the run (exit 3).")
@click.option("--jobs", "-j", default=8, show_default=True, help="Steps run in parallel at most.")
@click.option("--executor", type=click.Choice(["local", "buildbot"]), default=None,
              help="Where build jobs run (overrides [build] executor).")
@click.option("--buildbot-url", default=None, help="The Buildbot master for --executor buildbot.")
@click.option("--wait-for-gates", "wait_minutes", type=click.FloatRange(0), default=0.0, metavar="MINUTES",
              help="When only unanswered gates are left, keep the run alive this long for a decision made in "
                   "the web app (relman serve) or another terminal, instead of pausing at once.")
@json_option
def run_command(version: str, repo: str, config_file: str | None, state_dir: str | None, approve_all: bool,
                approve: str, fresh: bool, run_id: int | None, redo: str | None, accept_changes: bool, no_input: bool,
                jobs: int, executor: str | None, buildbot_url: str | None, wait_minutes: float, as_json: bool) -> None:
    """Run the release of VERSION, or resume it where it stopped.

    Every step is journaled; running the same command again resumes by step id, never
    repeating a finished step. The journal is verified against its hash chain first; a
    broken one is refused (exit 2). Gates are answered interactively on a terminal, or by
    --yes / --approve; without an answer the run pauses (exit 3) and resumes later.

    \b
    Examples:
      relman run 3.14.0rc1 --repo ~/cpython
      relman run 3.14.0rc1 --repo ~/cpython --approve push-fork,push-upstream --no-input
      relman run 3.14.0rc1 --repo ~/cpython --redo source.release-commit   # re-tag after a fix
    """
    build = {k: v for k, v in (("executor", executor), ("buildbot_url", buildbot_url)) if v}
    session = ReleaseSession.open(version, repo, state_dir=_state(state_dir),
                                  config_file=Path(config_file) if config_file else None,
                                  overrides={"build": build} if build else None)
    interactive = sys.stdin.isatty() and not no_input and not as_json
    policy = ApprovalPolicy(approve_all=approve_all, approve=frozenset(g.strip() for g in approve.split(",") if g.strip()),
                            policy=frozenset(session.settings.gates.policy),
                            policy_name=session.settings.gates.policy_name, interactive=interactive,
                            wait_s=wait_minutes * 60)
    result = session.run(approvals=policy, fresh=fresh, accept_changes=accept_changes, as_json=as_json,
                         max_parallel=jobs, run_id=run_id, redo=redo)
    hint = failure_hint(session.release(), session.plan(), result.steps, result.failed)
    if as_json:
        emit_json({"run_id": result.run_id, "version": session.version.text, "status": result.status,
                   "state_db": str(session.db_path), "failed": result.failed,
                   "paused": [{"step": s, "gate": g} for s, g in result.paused],
                   "steps": steps_json(result.steps), "wall_s": round(result.wall_s, 3),
                   "next": hint})
    elif result.wall_s == 0.0 and result.status == "done":
        click.echo(f"release {session.version} already finished (run {result.run_id}); use --fresh to start again")
    else:
        click.echo("\n" + "\n".join(summarize_run(session, result).lines()))
        if hint:
            click.secho(f"hint: {hint}", fg="yellow", err=True)
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


def _check_target(target: str | None) -> None:
    """A run id or a version, said before looking for a journal."""
    if target is None or target.isdigit():
        return
    from ..version import Version, VersionError

    try:
        Version.parse(target)
    except VersionError:
        raise UsageError(f"{target!r} is neither a run id nor a version",
                         hint="pass a run id (`relman runs` lists them), a version like 3.14.0rc1, or --run N") from None


def _pick_run(journal: Journal, target: str | None, run_id: int | None) -> int:
    """`show`/`report` target: --run N, a run id, a version (its latest run), or the latest run."""
    if run_id is not None:
        return journal.get_run(run_id).id
    if target is not None and target.isdigit():
        return journal.get_run(int(target)).id
    runs = journal.runs()
    if target is not None:
        runs = [r for r in runs if r.params.get("version") == target]
        if not runs:
            raise UsageError(f"no run of {target} in {journal.path}", hint="`relman runs` lists the runs")
    if not runs:
        raise UsageError(f"no runs in {journal.path}", hint="run a release first, or pass --state DIR")
    return runs[-1].id


run_option = click.option("--run", "run_id", type=int, default=None, metavar="N", help="Run N (see `relman runs`).")


@click.command("show")
@click.argument("target", required=False, metavar="[VERSION|RUN]")
@run_option
@state_option
@json_option
def show_command(target: str | None, run_id: int | None, state_dir: str | None, as_json: bool) -> None:
    """Show one run's steps: status, timing, attempts, errors, and whether its journal is intact.

    The run is --run N, a run id, the latest run of VERSION, or (with nothing) the latest run.
    Every way the journal differs from its hash chain is listed (exit 1 when it does).
    """
    _check_target(target)
    journal = _open_journal(state_dir)
    run_id = _pick_run(journal, target, run_id)
    run = journal.get_run(run_id)
    steps = journal.steps(run_id)
    problems = journal.verify(run_id)
    broken = journal.verify_chain(run_id)
    if as_json:
        emit_json({"run": run.as_dict(), "steps": steps_json(steps),
                   "approvals": list(journal.approvals(run_id).values()), "chain_ok": not problems,
                   "chain_broken_at": broken, "journal_problems": [str(p) for p in problems]})
        if problems:
            sys.exit(1)
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
    _echo_problems(problems)
    if problems:
        sys.exit(1)


def _echo_problems(problems) -> None:
    if not problems:
        click.echo("journal chain: intact (every row matches the hash chain, the chain ends at its recorded head)")
        return
    click.secho(f"journal chain: BROKEN ({len(problems)} problem(s))", fg="red", bold=True)
    for p in problems:
        click.secho(f"  - {p}", fg="red")


@click.command("report")
@click.argument("target", required=False, metavar="[VERSION|RUN]")
@run_option
@state_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="md: the story; svg: the timeline; html: both; json: the facts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to a file.")
@json_option
def report_command(target: str | None, run_id: int | None, state_dir: str | None, fmt: str, output: str | None,
                   as_json: bool) -> None:
    """The release diary of a run: its story by milestone, a timeline, gates, waits and incidents.

    The run is --run N, a run id, the latest run of VERSION, or (with nothing) the latest run.
    """
    _check_target(target)
    if as_json:
        fmt = "json"
    journal = _open_journal(state_dir)
    run_id = _pick_run(journal, target, run_id)
    text = render_diary(journal, run_id, fmt)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@click.command("abort")
@click.argument("version")
@repo_option
@config_option
@state_option
@click.option("--run", "run_id", type=int, default=None, metavar="N", help="Abort run N (default: the latest).")
@json_option
def abort_command(version: str, repo: str, config_file: str | None, state_dir: str | None, run_id: int | None,
                  as_json: bool) -> None:
    """Drop an unfinished release run before anything was pushed.

    Removes the local tag and the temporary branch — only those the journal proves relman
    made — and marks the run abandoned in the journal; the next `relman run VERSION` starts a
    new run. Refused (exit 2) once the fork or upstream has the tag: a pushed version is burnt.

    \b
    Example:
      relman abort 3.14.0rc2 --repo ~/cpython
    """
    from ..engine.runner import current_user

    session = ReleaseSession.open(version, repo, state_dir=_state(state_dir),
                                  config_file=Path(config_file) if config_file else None)
    aborted, cleanup = session.abort(run_id=run_id, who=current_user())
    if as_json:
        emit_json({"run_id": aborted, "version": session.version.text, "status": "abandoned", **cleanup.as_dict()})
        return
    click.echo(f"run {aborted} of {session.version} abandoned")
    for item in cleanup.removed:
        click.echo(f"  removed {item}")
    for item in cleanup.kept:
        click.secho(f"  kept {item}", fg="yellow")
    click.echo(f"next: `relman run {session.version.text} --repo {session.repo}` starts a new run")


@click.group("journal")
def journal_group() -> None:
    """Inspect the journal (the state file) itself."""


@journal_group.command("verify")
@click.argument("target", required=False, metavar="[VERSION|RUN]")
@run_option
@state_option
@json_option
def journal_verify_command(target: str | None, run_id: int | None, state_dir: str | None, as_json: bool) -> None:
    """Check runs against their hash chain (all runs, or one): exit 1 when anything differs.

    Every row of runs, steps, attempts and approvals must equal what the chained events say,
    no row may exist the chain does not know, and the chain must end at the head stored with
    the run (deleting the last events is caught).
    """
    _check_target(target)
    journal = _open_journal(state_dir)
    ids = [_pick_run(journal, target, run_id)] if (target or run_id is not None) else [r.id for r in journal.runs()]
    report = {i: journal.verify(i) for i in ids}
    if as_json:
        emit_json([{"run_id": i, "ok": not p, "problems": [str(x) for x in p]} for i, p in report.items()])
    else:
        for i, problems in report.items():
            click.echo(f"run {i}: " + ("intact" if not problems else f"{len(problems)} problem(s)"))
            for p in problems:
                click.secho(f"  - {p}", fg="red")
    if any(report.values()):
        sys.exit(1)


COMMANDS = [plan_command, run_command, runs_command, show_command, report_command, abort_command, journal_group]
