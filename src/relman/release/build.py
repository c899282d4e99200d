"""Builds and the supply chain: release files built from the tag on an executor, test-source,
the reproducibility gate, and verification of what was built before anything is published.

Build jobs are command lines handed to an executor (local processes, or Buildbot workers);
the steps that judge the results run in-process. File names come from the artifact manifest.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts.manifest import SOURCE, expected_files, get_profile
from ..artifacts.release_manifest import load_release_manifest, manifest_spec
from ..artifacts.signing import signing_arguments
from ..ci.executor import BuildJob, Executor, JobResult
from ..engine.secrets import redact_file
from ..engine.step import LOCAL, Effect, Step, StepContext
from ..errors import CheckFailed, StepFailed
from .context import Release, release_of
from .remote_build import is_remote

if TYPE_CHECKING:
    from ..artifacts.verify import Trust

PHASE = "build"
ARTIFACT_PROFILES = ("cpython", "demo")


def has_artifacts(params) -> bool:
    return params.get("profile") in ARTIFACT_PROFILES


def _executor(ctx: StepContext) -> Executor:
    return ctx.resources["executor"]


def _job_env(ctx: StepContext) -> dict[str, str]:
    """What every build job is told about the release it builds (Buildbot shows them as properties)."""
    tag = ctx.dep("source.tag")
    return {"RELMAN_TAG": str(tag.get("tag", "")), "RELMAN_COMMIT": str(tag.get("commit", ""))}


def _run_job(ctx: StepContext, job: BuildJob) -> JobResult:
    def on_event(job_id: str, kind: str, message: str) -> None:
        if kind in ("started", "finished") or message:
            ctx.log(f"{job_id} {kind}" + (f": {message}" if message else ""))

    result = _executor(ctx).run([job], on_event=on_event)[job.id]
    redact = ctx.resources.get("redact", lambda text: text)
    if result.log_path is not None:
        redact_file(Path(result.log_path), redact)  # job logs never keep secrets either
    if not result.ok:
        raise StepFailed(f"build job {job.id} failed on {result.where or _executor(ctx).name}:\n"
                         f"{redact(result.error or '')}".rstrip(),
                         hint=f"full log: {result.log_path}; fix the cause and run again to resume")
    return result


def manifest_path(release: Release) -> Path:
    return release.artifacts_dir / manifest_spec(release.settings.profile, release.version).name


def _manifest(release: Release) -> dict | None:
    path = manifest_path(release)
    if not path.is_file():
        return None
    try:
        return load_release_manifest(path.read_bytes(), where=str(path))
    except CheckFailed:
        return None  # a torn write from an interrupted build: build again


def _summary(release: Release, manifest: dict) -> dict:
    files = [{"name": f["name"], "size": f["size"], "sha256": f["sha256"], "label": f.get("label")}
             for f in manifest["files"]]
    return {"directory": str(release.artifacts_dir), "manifest": str(manifest_path(release)),
            "commit": manifest.get("commit"), "files": files,
            "unsigned": bool(manifest.get("signing", {}).get("unsigned"))}


def artifacts_probe(ctx: StepContext) -> dict | None:
    release = release_of(ctx)
    manifest = _manifest(release)
    tag_commit = ctx.dep("source.tag").get("commit")
    if manifest and manifest.get("commit") == tag_commit:
        return _summary(release, manifest)
    return None


def artifacts_job(release: Release, env: dict[str, str]) -> BuildJob:
    """The build job for the release files: `relman artifacts build` with every [signing] setting,
    [build] docs and timeout_s."""
    out = release.artifacts_dir
    argv = [sys.executable, "-m", "relman.cli.main", "artifacts", "build", release.version.text,
            "--repo", str(release.repo), "-o", str(out), "--profile", release.settings.profile, "--json"]
    argv += signing_arguments(release.settings.signing.model_dump())
    if not release.settings.build.docs:
        argv.append("--no-docs")
    return BuildJob("build-release-files", tuple(argv), cwd=release.repo, output_dir=out,
                    outputs=(manifest_path(release).name,), env=env, timeout=release.settings.build.timeout_s)


def build_artifacts(ctx: StepContext) -> dict:
    if is_remote(_executor(ctx)):   # workers that share nothing with this machine: release/remote_build.py
        from .remote_build import build_artifacts_remote
        return build_artifacts_remote(ctx)
    release = release_of(ctx)
    out = release.artifacts_dir
    if out.exists():
        shutil.rmtree(out)  # a partial build from an interrupted attempt: start clean
    result = _run_job(ctx, artifacts_job(release, _job_env(ctx)))
    manifest = _manifest(release)
    if manifest is None:
        raise StepFailed(f"the build wrote no release manifest into {out}", hint=f"see {result.log_path}")
    ctx.log(f"built {len(manifest['files'])} files in {result.duration_s:.1f} s ({result.where})")
    return _summary(release, manifest)


def source_archive(release: Release) -> Path:
    profile = get_profile(release.settings.profile)
    specs = expected_files(profile, release.version, producer=SOURCE)
    tgz = next((s for s in specs if s.name.endswith((".tgz", ".tar.gz"))), specs[0])
    return release.artifacts_dir / tgz.name


def _command_options(build) -> tuple[str, ...]:
    """[build] build_command / test_command, when configured, replace the profile's commands."""
    options: list[str] = []
    if build.build_command:
        options += ["--build-command", json.dumps(list(build.build_command))]
    if build.test_command:
        options += ["--test-command", json.dumps(list(build.test_command))]
    return tuple(options)


def build_commands_inputs(params) -> dict:
    return {"build_commands": params.get("build_commands")}


def test_source_job(release: Release, env: dict[str, str]) -> BuildJob:
    """The test-source job: unpack the archive and run the build and test commands there."""
    work = release.work_dir / "test-source"
    argv = (sys.executable, "-m", "relman.artifacts.testsource", str(source_archive(release)), "--profile",
            release.settings.profile, "--work-dir", str(work), *_command_options(release.settings.build))
    return BuildJob("test-source", argv, cwd=release.work_dir, output_dir=work, env=env,
                    timeout=release.settings.build.timeout_s)


def run_test_source(ctx: StepContext) -> dict:
    if is_remote(_executor(ctx)):
        from .remote_build import run_test_source_remote
        return run_test_source_remote(ctx)
    release = release_of(ctx)
    archive = source_archive(release)
    work = release.work_dir / "test-source"
    if work.exists():
        shutil.rmtree(work)
    result = _run_job(ctx, test_source_job(release, _job_env(ctx)))
    return {"archive": archive.name, "duration_s": round(result.duration_s, 3), "log": str(result.log_path),
            "where": result.where}


def check_reproducible(ctx: StepContext) -> dict:
    """Build the source archives a second time from the tag; any differing digest stops the run."""
    from ..artifacts.archive import build_source_archives
    from ..artifacts.build import default_news_hook

    if is_remote(_executor(ctx)):
        from .remote_build import check_reproducible_remote
        return check_reproducible_remote(ctx)
    release = release_of(ctx)
    profile = get_profile(release.settings.profile)
    first = {f["name"]: f["sha256"] for f in ctx.dep("build.artifacts")["files"]}
    scratch = release.work_dir / "rebuild"
    if scratch.exists():
        shutil.rmtree(scratch)
    second = build_source_archives(release.repo, release.version, scratch, profile=profile,
                                   generate=default_news_hook(profile, release.version))
    differing = [f.name for f in second.files if first.get(f.name) != f.sha256]
    if differing:
        raise CheckFailed(f"not reproducible: a second build from {release.version.git_tag} differs in "
                          + ", ".join(differing), hint=f"compare {release.artifacts_dir} with {scratch} "
                                                       "(diffoscope helps); nothing was published")
    shutil.rmtree(scratch)
    return {"identical": sorted(f.name for f in second.files)}


def release_trust(settings) -> Trust:
    """What the run's own verification trusts: the signers this project's configuration names
    (the GPG key's fingerprint from its keyring, the Sigstore identity and issuer)."""
    from ..artifacts.signing import GpgSigner
    from ..artifacts.verify import Trust

    signing = settings.signing
    home = Path(signing.gnupghome).expanduser() if signing.gnupghome else None
    fingerprints = [GpgSigner(signing.gpg_key, home).fingerprint()] if signing.gpg_key else []
    return Trust.pinned(gnupghome=home, fingerprints=fingerprints, identity=signing.sigstore_identity,
                        issuer=signing.sigstore_issuer,
                        trusted_root=Path(signing.sigstore_trust_root) if signing.sigstore_trust_root else None,
                        staging=signing.sigstore_staging)


def verify_built(ctx: StepContext) -> dict:
    """What users will download, checked before anyone is told: sizes, digests, signatures, SBOMs."""
    from ..artifacts.signing import require_signing, signers_from_config
    from ..artifacts.verify import verify_release

    release = release_of(ctx)
    signing = release.settings.signing
    signed = require_signing(signers_from_config(signing.model_dump()), allow_unsigned=signing.allow_unsigned)
    report = verify_release(release.artifacts_dir, trust=release_trust(release.settings),
                            allow_unsigned=signing.allow_unsigned)
    if not report.ok:
        problems = "\n".join(f"  {p.file}: {p.message}" for p in report.problems + report.unverified)
        raise CheckFailed(f"the built release does not verify:\n{problems}", where=str(release.artifacts_dir))
    return {"checked": len(report.checked), "signed": signed}


def signing_inputs(params) -> dict:
    """The signing settings are inputs of the build: changing a signer rebuilds (and signs) again."""
    return {"signing": params.get("signing")}


def build_steps() -> list[Step]:
    common: dict[str, Any] = dict(phase=PHASE, condition=has_artifacts,
                                  condition_text="for profiles with an artifact manifest",
                  uses=("version", "executor"))
    from .remote_build import fork_tag
    return [
        Step("build.fork-tag", "remote workers: the tag is on the fork they fetch from, at the tagged commit",
             fork_tag, deps=("source.push-fork",), phase=PHASE, uses=("version", "executor"), timeout_s=300,
             condition=lambda p: has_artifacts(p) and p.get("executor") == "buildbot",
             condition_text="for artifact profiles built on Buildbot workers"),
        Step("build.artifacts", "build the release files from the tag (archives, SBOMs, docs, signatures, manifest)",
             build_artifacts, deps=("source.tag", "build.fork-tag"), probe=artifacts_probe, timeout_s=7200,
             effects=(Effect(LOCAL, "writes the release files into the run's artifacts folder"),),
             inputs=signing_inputs, **common),
        Step("build.test-source", "unpack the source archive, build it and run its tests", run_test_source,
             deps=("build.artifacts",), timeout_s=7200, inputs=build_commands_inputs, **common),
        Step("build.reproducible", "reproducibility gate: a second build gives identical archives",
             check_reproducible, deps=("build.artifacts",), timeout_s=7200, **common),
        Step("build.verify", "verify the built release: sizes, digests, signatures, SBOMs", verify_built,
             deps=("build.artifacts",), timeout_s=600, **common),
    ]


BUILD_DONE = ("build.test-source", "build.reproducible", "build.verify")
