"""`relman demo`: rehearse a whole release of a built-in sample project."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..demo.rehearsal import DEFAULT_VERSION, run_demo
from .common import emit_json, json_option


@click.command("demo")
@click.option("--dir", "directory", default="build/demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the sample project, its remotes, the journal and the artifacts.")
@click.option("--version", "version", default=None, help=f"Version to rehearse (default {DEFAULT_VERSION}).")
@click.option("--executor", type=click.Choice(["local", "buildbot"]), default="local", show_default=True,
              help="Where build jobs run.")
@click.option("--fresh", is_flag=True, help="Delete an earlier rehearsal in --dir and start over.")
@json_option
def demo_command(directory: str, version: str | None, executor: str, fresh: bool, as_json: bool) -> None:
    """Rehearse a complete release on a CPython-shaped sample project.

    Builds the sample (git history, news fragments, docs, a small C program) with local bare
    `upstream.git` and `fork.git` remotes, then runs the real release steps through the
    engine, non-interactively: the demo's policy approves every gate and the journal records
    it. Run it again on the same --dir to resume an interrupted rehearsal.

    \b
    Examples:
      relman demo
      relman demo --version 3.15.0b1 --dir /tmp/rehearsal --json
    """
    outcome = run_demo(Path(directory), version=version, fresh=fresh, executor=executor, as_json=as_json)
    summary = outcome.summary()
    if as_json:
        emit_json(summary)
    elif outcome.already_finished:
        click.echo(f"the rehearsal in {outcome.root} already finished (run {summary['run_id']}); "
                   "pass --fresh to start a new one")
    else:
        from ..release.summary import summarize_run

        summary_lines = summarize_run(outcome.session, outcome.result, diary=outcome.report).lines()
        click.echo("\n" + "\n".join(summary_lines))
        if summary["status"] == "done":
            click.echo(f"           git -C {outcome.root / 'upstream.git'} log --oneline --graph --all | head")
    sys.exit(outcome.result.exit_code)


COMMANDS = [demo_command]
