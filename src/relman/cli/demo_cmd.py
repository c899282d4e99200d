"""`relman demo`: rehearse a whole release of a built-in sample project."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from ..demo.rehearsal import DEFAULT_VERSION, run_demo
from ..version import Version
from .common import emit_json, json_option


@click.command("demo")
@click.option("--dir", "directory", default="build/demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the sample project, its remotes, the journal and the artifacts.")
@click.option("--version", "version", default=None, help=f"Version to rehearse (default {DEFAULT_VERSION}).")
@click.option("--executor", type=click.Choice(["local", "buildbot"]), default="local", show_default=True,
              help="Where build jobs run. buildbot: a local master with two workers that share nothing with "
                   "you (user relman-worker, its own venv, the fork over git daemon; as root, else same-user).")
@click.option("--fresh", is_flag=True, help="Delete an earlier rehearsal in --dir and start over.")
@click.option("--serve", is_flag=True,
              help="Afterwards keep the demo's web site (downloads, API) running on 127.0.0.1 until Ctrl-C.")
@click.option("--sftp", is_flag=True,
              help="Upload over SFTP to a local OpenSSH sshd (started for the rehearsal) instead of copying.")
@json_option
def demo_command(directory: str, version: str | None, executor: str, fresh: bool, serve: bool, sftp: bool,
                 as_json: bool) -> None:
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
    def keep_serving(outcome) -> None:
        _report(outcome, as_json)
        sys.stdout.flush()
        click.echo(f"\nserving the demo site at {outcome.site_url}/downloads/ (Ctrl-C to stop)", err=as_json)
        sys.stderr.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    outcome = run_demo(Path(directory), version=version, fresh=fresh, executor=executor, as_json=as_json,
                       serve=keep_serving if serve else None, sftp=sftp)
    if not serve:
        _report(outcome, as_json)
    sys.exit(outcome.result.exit_code)


def _report(outcome, as_json: bool) -> None:
    summary = outcome.summary()
    if as_json:
        emit_json(summary)
    elif outcome.already_finished:
        click.echo(f"the rehearsal in {outcome.root} already finished (run {summary['run_id']}); "
                   "pass --fresh to start a new one")
    else:
        from ..release.summary import summarize_run

        run = summarize_run(outcome.session, outcome.result, diary=outcome.report)
        click.echo("\n" + "\n".join(run.lines()))
        click.echo(f"published: {summary['downloads_dir']} (site data: {summary['site_dir']})")
        if summary["status"] == "done":
            if outcome.site_url:
                folder = Version.parse(summary["version"]).normalized
                click.echo(f"           {shlex.join(['relman', 'verify', f'{outcome.site_url}/ftp/python/{folder}/', *run.verify_args])}"
                           "   (while --serve runs)")
            click.echo(f"           git -C {outcome.root / 'upstream.git'} log --oneline --graph --all | head")


COMMANDS = [demo_command]
