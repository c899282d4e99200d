"""`relman worker …`: what a build worker runs for a remote build job (it shares nothing with
the release manager's machine: it fetches the tag itself and builds unsigned)."""

from __future__ import annotations

from pathlib import Path

import click

from ..artifacts.manifest import PROFILES
from ..ci.buildbot_worker import build_from_remote, report_line, test_source_remote
from .common import emit_json, json_option


@click.group("worker")
def worker_group() -> None:
    """Run a remote build job on a build worker (Buildbot runs these; see docs/buildbot.md)."""


@worker_group.command("build")
@click.argument("version")
@click.option("--url", required=True, help="The remote to fetch the tag from (the fork the tag was pushed to).")
@click.option("--tag", required=True, help="The release tag, e.g. v3.14.1.")
@click.option("--commit", required=True, help="The full SHA the tag must point to; anything else is refused.")
@click.option("--profile", required=True, type=click.Choice(sorted(PROFILES)), help="Artifact profile.")
@click.option("--checkout", type=click.Path(path_type=Path, file_okay=False), default="src", show_default=True,
              help="Folder for the fetched repository (replaced on every run).")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default="out",
              show_default=True, help="Folder for the unsigned release files (emptied first; must be empty or "
                                      "made by this command).")
@click.option("--no-docs", is_flag=True, help="Skip the docs even for rc/final releases.")
@click.option("--security", is_flag=True, help="A security-only release (fewer artifacts).")
@json_option
def build_command(version: str, url: str, tag: str, commit: str, profile: str, checkout: Path, out_dir: Path,
                  no_docs: bool, security: bool, as_json: bool) -> None:
    """Fetch TAG from URL, check it is COMMIT, and build VERSION's release files unsigned.

    Prints one line `relman-worker-report: {json}` with the commit built, every file's size and
    SHA-256 and this worker's facts; the release manager checks the files against it when they
    arrive, then signs at home.

    \b
    Example:
      relman worker build 3.14.1 --url git://build-fork.example/cpython.git --tag v3.14.1 \\
          --commit 0123…(40 hex) --profile cpython -o out
    """
    report = build_from_remote(version, url=url, tag=tag, commit=commit, out=out_dir, checkout=checkout,
                               profile=profile, docs=not no_docs, security=security)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"built {len(report['files'])} unsigned files of {version} from {tag} ({commit[:12]}) "
                   f"in {report['wall_s']:.1f} s on {report['facts']['worker']}")
    click.echo(report_line(report))


@worker_group.command("test-source")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--sha256", required=True, help="The archive's expected SHA-256; anything else is refused.")
@click.option("--profile", required=True, type=click.Choice(sorted(PROFILES)), help="Artifact profile.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False), default="test-source",
              show_default=True, help="Where to unpack (replaced on every run).")
def test_source_command(archive: Path, sha256: str, profile: str, work_dir: Path) -> None:
    """Check ARCHIVE's SHA-256, then unpack it, build it and run its tests."""
    report = test_source_remote(archive, sha256=sha256, profile=profile, work_dir=work_dir)
    click.echo(f"test-source passed in {report['duration_s']:.1f} s on {report['facts']['worker']}")
    click.echo(report_line(report))


COMMANDS = [worker_group]
