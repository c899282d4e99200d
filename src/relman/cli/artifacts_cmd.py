"""`relman artifacts …`: build a release's files, list what a release has, run test-source."""

from __future__ import annotations

from pathlib import Path

import click

from ..artifacts.build import build_release_artifacts, default_news_hook
from ..artifacts.manifest import PROFILES, ArtifactProfile, expected_files, get_profile
from ..artifacts.signing import signers_from_config
from ..configfile import read_repo_config
from ..errors import UsageError
from ..profile import detect_profile
from ..vcs import Git
from ..version import Version
from .common import emit_json, json_option

profile_option = click.option(
    "--profile", default="auto", show_default=True,
    type=click.Choice(["auto", *sorted(PROFILES)]),
    help="Artifact profile: which files the release has. auto: the repository's configured profile, "
         "else cpython for a CPython checkout (Include/patchlevel.h, Lib/, Misc/NEWS.d/).")


def pick_profile(name: str, repo: Path | None) -> ArtifactProfile:
    """--profile auto: the repository's profile (configured, else detected); demo without a repository."""
    if name != "auto":
        return get_profile(name)
    if repo is None:
        return get_profile("demo")
    data, _ = read_repo_config(repo)
    detected = detect_profile(repo, data.get("profile"))
    if detected not in PROFILES:
        raise UsageError(f"the {detected} profile has no artifact manifest", where=str(repo),
                         hint="pass --profile " + " or --profile ".join(sorted(PROFILES)))
    return get_profile(detected)


@click.group("artifacts")
def artifacts_group() -> None:
    """Build and inspect a release's files (archives, docs, checksums, SBOMs, manifest)."""


@artifacts_group.command("build")
@click.argument("version")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="The project's git checkout; the archives come from the tag vX.Y.Z, not the working tree.")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder to write the release files into.")
@profile_option
@click.option("--no-docs", is_flag=True, help="Skip the docs even for rc/final releases.")
@click.option("--reproducible", is_flag=True,
              help="Build the source archives twice and fail if the digests differ (the reproducibility gate).")
@click.option("--security", is_flag=True, help="A security-only release (fewer artifacts).")
@click.option("--gpg-key", help="Sign with this GPG key (id, fingerprint or e-mail).")
@click.option("--gnupghome", type=click.Path(path_type=Path, file_okay=False), help="GPG home (keyring) to use.")
@click.option("--gpg-passphrase-env", metavar="VAR", help="The environment variable holding the key's passphrase.")
@click.option("--sigstore-identity", help="Also sign with Sigstore as this identity (needs --sigstore-issuer, "
                                          "$SIGSTORE_IDENTITY_TOKEN and the internet).")
@click.option("--sigstore-issuer", help="The OIDC issuer of --sigstore-identity.")
@click.option("--sigstore-staging", is_flag=True, help="Use Sigstore's staging instance.")
@click.option("--validate-sbom", is_flag=True, help="Validate each SBOM with spdx-tools (slower on big trees).")
@json_option
def build_command(version: str, repo: Path, out_dir: Path, profile: str, no_docs: bool, reproducible: bool,
                  security: bool, gpg_key: str | None, gnupghome: Path | None, gpg_passphrase_env: str | None,
                  sigstore_identity: str | None, sigstore_issuer: str | None, sigstore_staging: bool,
                  validate_sbom: bool, as_json: bool) -> None:
    """Build VERSION's release files from its tag into OUT.

    Writes the source archives (.tgz, .tar.xz: reproducible), an SPDX SBOM per archive, the
    docs archives for release candidates and finals, signatures (with --gpg-key), SHA256SUMS
    and the release manifest VERSION.manifest.json (signed like the artifacts). Without a
    signer the files are built unsigned; publishing them needs signing or allow_unsigned.

    \b
    Examples:
      relman artifacts build 3.14.0rc1 --repo ~/cpython -o dist/3.14.0rc1
      relman artifacts build 3.14.0 --repo . -o dist --gpg-key rm@example.org --reproducible
      relman verify dist/3.14.0rc1
    """
    v = Version.parse(version)
    if not Git(repo).is_repo():
        raise UsageError(f"{repo} is not a git repository", hint="pass --repo pointing at the project checkout")
    prof = pick_profile(profile, repo)
    signers = signers_from_config({"gpg_key": gpg_key, "gnupghome": gnupghome, "gpg_passphrase_env": gpg_passphrase_env,
                                   "sigstore_identity": sigstore_identity, "sigstore_issuer": sigstore_issuer,
                                   "sigstore_staging": sigstore_staging})
    result = build_release_artifacts(repo, v, out_dir, profile=prof, generate=default_news_hook(prof, v),
                                     signers=signers, docs=not no_docs, reproducible_check=reproducible,
                                     security=security, validate_sboms=validate_sbom)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"{prof.project} {v} from {result.source.tag} ({result.source.commit[:12]}) → {out_dir} "
               f"(profile {prof.name})")
    for f in result.source.files:
        click.echo(f"  {f.name:<40} {f.size:>12,} bytes  sha256 {f.sha256}")
    if result.docs and not result.docs.skipped:
        for f in result.docs.files:
            click.echo(f"  {f.name:<40} {f.size:>12,} bytes")
    elif result.docs:
        click.echo(f"  docs: skipped ({result.docs.reason})")
    for f in result.sboms:
        click.echo(f"  {f.name}")
    click.echo(f"  {result.sha256sums.name if result.sha256sums else ''}")
    if result.manifest:
        click.echo(f"  {result.manifest.name}" + (" (UNSIGNED)" if result.unsigned else ""))
    if reproducible:
        click.echo("reproducibility: two builds gave identical archives")
    click.echo(f"done in {result.wall_s:.1f} s")


@artifacts_group.command("list")
@click.argument("version")
@profile_option
@click.option("--security", is_flag=True, help="A security-only release.")
@json_option
def list_command(version: str, profile: str, security: bool, as_json: bool) -> None:
    """List every file VERSION's release has, from the artifact manifest.

    \b
    Examples:
      relman artifacts list 3.15.0rc1 --profile cpython
      relman artifacts list 3.13.9 --profile cpython --security --json
    """
    prof = pick_profile(profile, None)
    specs = expected_files(prof, Version.parse(version), security)
    if as_json:
        emit_json([s.as_dict() for s in specs])
        return
    for s in specs:
        extra = f"  + {', '.join(s.sidecars)}" if s.sidecars else ""
        button = " [button]" if s.download_button else ""
        click.echo(f"{s.name:<48} {s.producer:<18} {s.os:<8} {s.label}{button}{extra}")


@artifacts_group.command("test-source")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@profile_option
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False), help="Where to unpack (a fresh folder).")
@json_option
def test_source_command(archive: Path, profile: str, work_dir: Path | None, as_json: bool) -> None:
    """Unpack ARCHIVE into a fresh folder and run the profile's build and tests.

    \b
    Example:
      relman artifacts test-source dist/Python-3.14.0rc1.tgz --profile demo
    """
    from ..artifacts import testsource

    prof = get_profile("demo" if profile == "auto" else profile)
    result = testsource.test_source(archive, profile=prof, work_dir=work_dir)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"test-source passed in {result.duration_s:.1f} s (log: {result.log_path})")


COMMANDS = [artifacts_group]
