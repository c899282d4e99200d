"""`relman bump V`: the version edits of a release, on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import load_settings
from ..errors import UsageError
from ..profile import plan_version_bump, uses_cpython_rules
from ..source import VersionFile
from ..version import Version
from .common import emit_json, json_option


def _load_release_cycle(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}", where=str(path)) from None
    except json.JSONDecodeError as error:
        raise UsageError(f"not valid JSON: {error.msg}", where=f"{path}:{error.lineno}") from None
    if not isinstance(data, dict):
        raise UsageError("expected a JSON object keyed by X.Y (release-cycle.json shape)", where=str(path))
    return data


def _parse_file_option(spec: str) -> VersionFile:
    path, sep, pattern = spec.partition("::")
    if sep:
        return VersionFile(path, pattern=pattern)
    if path.endswith(".toml"):
        return VersionFile(path, key="project.version")
    raise UsageError(f"--file {spec!r}: give PATH::REGEX for files other than .toml",
                     hint="for example --file 'src/pkg/__init__.py::__version__ = \"(?P<version>[^\"]+)\"'")


@click.command("bump")
@click.argument("version")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
              help="The checkout to edit.")
@click.option("--done", is_flag=True, help="The post-release bump: add the +/+dev suffix (patchlevel.h, README).")
@click.option("--dry-run", is_flag=True, help="Show the unified diff; write nothing.")
@click.option("--release-cycle", "release_cycle_file", type=click.Path(dir_okay=False, path_type=Path),
              help="release-cycle.json (offline copy) for the README's release-schedule PEP.")
@click.option("--skip-docs", is_flag=True, help="Leave `.. versionadded:: next` and friends alone.")
@click.option("--profile", type=click.Choice(["auto", "cpython", "generic"]), default="auto", show_default=True,
              help="cpython: patchlevel.h, README, docs; generic: pyproject.toml/__init__.py. "
                   "auto: the configured profile, else cpython for a CPython checkout "
                   "(Include/patchlevel.h, Lib/, Misc/NEWS.d/).")
@click.option("--package", help="generic profile: the import package whose __init__.py has __version__.")
@click.option("--file", "files", multiple=True, metavar="PATH[::REGEX]",
              help="generic profile: a version file (repeatable); .toml files use project.version.")
@json_option
def bump_command(version: str, repo: Path, done: bool, dry_run: bool, release_cycle_file: Path | None,
                 skip_docs: bool, profile: str, package: str | None, files: tuple[str, ...], as_json: bool) -> None:
    """Edit the version in the source tree for VERSION and list the files changed.

    \b
    CPython profile (what the release commit contains):
      - Include/patchlevel.h constants block (written atomically);
      - README.rst title, underline, What's New / docs / release-PEP links;
      - `.. versionadded:: next` (and versionchanged, versionremoved, deprecated,
        deprecated-removed) -> the doc version, in every .rst under Doc/;
      - for X.Y.0a0 (main after beta 1): configure.ac, tutorial, PC files,
        issue templates, magic-number range, and a What's New skeleton.
    With --done only the post-release suffix is added (3.15+: +dev, before: +).

    \b
    Examples:
      relman bump 3.15.0rc1 --repo ~/cpython --dry-run
      relman bump 3.15.0rc1 --repo ~/cpython --release-cycle release-cycle.json
      relman bump 3.15.0rc1 --repo ~/cpython --done
      relman bump 3.16.0a0 --repo ~/cpython --json
      relman bump 1.4.0 --repo . --profile generic --package mypkg
    """
    repo = repo.resolve()
    if not repo.is_dir():
        raise UsageError(f"{repo} is not a directory", hint="pass --repo PATH to the checkout")
    settings = load_settings(repo)
    chosen = settings.profile if profile == "auto" else profile
    if done and not uses_cpython_rules(chosen):
        raise UsageError("--done is for the CPython profile",
                         hint="for a package, bump to the next development version instead")
    version_files = [_parse_file_option(spec) for spec in files] or settings.version_files
    edits = plan_version_bump(repo, version, profile=chosen, done=done, package=package or settings.package,
                              version_files=version_files, release_cycle=_load_release_cycle(release_cycle_file),
                              docs=not skip_docs)
    shown_version = version
    if uses_cpython_rules(chosen):
        parsed = Version.parse(version)
        shown_version = parsed.text + (parsed.post_release_suffix if done else "")
    diff = edits.diff()
    changed = edits.changed()
    created = edits.created()
    if not dry_run:
        edits.apply()
    if as_json:
        emit_json({
            "version": shown_version, "profile": chosen, "done": done, "dry_run": dry_run, "repo": str(repo),
            "changed": changed, "created": created, "notes": [note.as_dict() for note in edits.notes],
            "diff": diff if dry_run else None,
        })
        return
    click.echo(f"bump to {shown_version} (profile {chosen}) in {repo}")
    if dry_run and diff:
        click.echo(diff, nl=False)
    verb = "would change" if dry_run else "changed"
    if not changed:
        click.echo(f"nothing to change: the tree is already at {shown_version}")
    for rel in changed:
        click.echo(f"{verb}: {rel}{' (new file)' if rel in created else ''}")
    for note in edits.notes:
        if note.kind != "info":
            click.secho(f"{note.kind}: {note.path}: {note.message}", fg="yellow", err=True)


COMMANDS = [bump_command]
