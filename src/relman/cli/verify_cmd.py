"""`relman verify PATH-or-URL`: check a downloaded or published release."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from ..artifacts.verify import Trust, verify_release
from ..configfile import read_repo_config, read_toml
from ..errors import ConfigError
from .common import EXIT_FAILED, emit_json, json_option


def _project_signing(config_file: Path | None) -> dict[str, Any]:
    """The [signing] table of --config FILE, else of the current folder's relman.toml / [tool.relman]."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError("no such configuration file", where=str(config_file))
        data = read_toml(config_file)
    else:
        data, _ = read_repo_config(Path.cwd())
    signing = data.get("signing", {})
    return signing if isinstance(signing, dict) else {}


@click.command("verify")
@click.argument("location")
@click.option("--key", "key_files", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A public key file (or a keys file) of the release managers: GPG signatures are accepted "
                   "only from its keys (repeatable).")
@click.option("--fingerprint", "fingerprints", multiple=True,
              help="Accept GPG signatures only from this key (repeatable); its public key must be in the "
                   "--gnupghome keyring.")
@click.option("--gnupghome", type=click.Path(path_type=Path, file_okay=False),
              help="GPG home whose keyring holds the public keys named by --fingerprint.")
@click.option("--identity", help="Sigstore: the signer's identity (e-mail or URI) the certificate must name. "
                                 "Default: [signing] sigstore_identity of the project's configuration.")
@click.option("--issuer", help="Sigstore: the OIDC issuer the certificate must name "
                               "(e.g. https://github.com/login/oauth). Default: [signing] sigstore_issuer.")
@click.option("--trust-root", type=click.Path(path_type=Path, dir_okay=False),
              help="Sigstore: a trusted_root.json to verify against (default: Sigstore's public-good root, "
                   "shipped with the sigstore library; [signing] sigstore_trust_root).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Read the [signing] defaults from this TOML file (default: ./relman.toml or "
                   "[tool.relman] in ./pyproject.toml).")
@click.option("--allow-unsigned", is_flag=True, help="Do not fail on an unsigned manifest (rehearsals).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Per-request timeout for URLs.")
@json_option
def verify_command(location: str, key_files: tuple[Path, ...], fingerprints: tuple[str, ...],
                   gnupghome: Path | None, identity: str | None, issuer: str | None, trust_root: Path | None,
                   config_file: Path | None, allow_unsigned: bool, timeout: float, as_json: bool) -> None:
    """Check a release: sizes, SHA-256, signatures, SBOMs against the archives.

    LOCATION is a folder holding the release files, its VERSION.manifest.json, or the http(s)
    URL of either. Everything the signed manifest lists is checked: exit 0 when all holds,
    exit 1 with the list of what does not.

    Signatures are checked against what you trust, never against what the release says: GPG
    signatures against the keys you pin (--key, --fingerprint), Sigstore bundles cryptographically
    (offline) against the identity and issuer you name. A signature that cannot be checked is
    reported as unverified, and fails.

    \b
    Examples:
      relman verify ~/Downloads/3.14.0 --key pablogsal.asc
      relman verify https://downloads.example.org/ftp/python/3.14.0/ --identity hugo@python.org \\
          --issuer https://github.com/login/oauth
      relman verify dist/3.14.0rc1 --gnupghome ~/.gnupg --fingerprint 7169605F62C751356D054A26A821E680E5FA6305
    """
    signing = _project_signing(config_file)
    trust_root = trust_root or (Path(signing["sigstore_trust_root"]) if signing.get("sigstore_trust_root") else None)
    with tempfile.TemporaryDirectory(prefix="relman-keys-") as scratch:
        trust = Trust.pinned(key_files=key_files, gnupghome=gnupghome, fingerprints=fingerprints,
                             identity=identity or signing.get("sigstore_identity"),
                             issuer=issuer or signing.get("sigstore_issuer"), trusted_root=trust_root,
                             staging=bool(signing.get("sigstore_staging")), scratch=Path(scratch) / "gnupg")
        report = verify_release(location, trust=trust, allow_unsigned=allow_unsigned, timeout=timeout)
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in report.checked:
            click.echo(f"ok    {line}")
        for problem in report.problems:
            click.secho(f"FAIL  {problem}", fg="red")
        for problem in report.unverified:
            click.secho(f"FAIL  {problem}", fg="red")
        if report.unlisted:
            click.echo(f"note  not in the manifest (not checked): {', '.join(report.unlisted)}")
        if report.ok:
            verdict = "all checks passed"
        else:
            verdict = f"{len(report.problems)} problem(s)"
            if report.unverified:
                verdict += f", {len(report.unverified)} signature(s) unverified"
        click.echo(f"{report.manifest} ({report.version}): {verdict}")
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [verify_command]
