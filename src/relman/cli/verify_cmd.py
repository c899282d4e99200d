"""`relman verify PATH-or-URL`: check a downloaded or published release."""

from __future__ import annotations

from pathlib import Path

import click

from ..artifacts.verify import verify_release
from .common import EXIT_FAILED, emit_json, json_option


@click.command("verify")
@click.argument("location")
@click.option("--gnupghome", type=click.Path(path_type=Path, file_okay=False),
              help="GPG home whose keyring holds the release managers' public keys.")
@click.option("--fingerprint", "fingerprints", multiple=True,
              help="Accept GPG signatures only from this key (repeatable). Default: the keys the manifest names.")
@click.option("--allow-unsigned", is_flag=True, help="Do not fail on an unsigned manifest (rehearsals).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Per-request timeout for URLs.")
@json_option
def verify_command(location: str, gnupghome: Path | None, fingerprints: tuple[str, ...], allow_unsigned: bool,
                   timeout: float, as_json: bool) -> None:
    """Check a release: sizes, SHA-256, signatures, SBOMs against the archives.

    LOCATION is a folder holding the release files, its VERSION.manifest.json, or the http(s)
    URL of either. Everything the signed manifest lists is checked: exit 0 when all holds,
    exit 1 with the list of what does not.

    \b
    Examples:
      relman verify ~/Downloads/3.14.0
      relman verify https://downloads.example.org/ftp/python/3.14.0/
      relman verify dist/3.14.0rc1 --gnupghome ~/.gnupg --fingerprint 7169605F62C751356D054A26A821E680E5FA6305
    """
    report = verify_release(location, gnupghome=gnupghome, fingerprints=fingerprints,
                            allow_unsigned=allow_unsigned, timeout=timeout)
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in report.checked:
            click.echo(f"ok    {line}")
        for problem in report.problems:
            click.secho(f"FAIL  {problem}", fg="red")
        if report.unlisted:
            click.echo(f"note  not in the manifest (not checked): {', '.join(report.unlisted)}")
        verdict = "all checks passed" if report.ok else f"{len(report.problems)} problem(s)"
        click.echo(f"{report.manifest} ({report.version}): {verdict}")
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [verify_command]
