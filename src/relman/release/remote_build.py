"""Release builds on workers that share nothing with this machine (executors whose
`shares_filesystem` is False: the Buildbot executor).

The job carries what it needs and nothing of this machine: the fork's URL, the tag and the
commit SHA the tag must point to, and the worker's own relman command (`[build] worker_command`,
default `relman` on the worker's PATH). On the worker, `relman worker build` fetches exactly that
commit, refuses any other, builds the release files unsigned and prints a report (files with
size and SHA-256, the commit, the worker's facts). Here, in order:

1. the files arrive through the master (the executor's drop-dir upload) into a fresh
   `incoming/<job>` folder and must match the report by name, size and SHA-256, with the
   commit, tag and version asked for (`check_arrival`);
2. the unsigned manifest, SHA256SUMS and every SBOM are checked against the files (the SBOM
   hashes check of `relman verify`);
3. only then are the files signed here, SHA256SUMS rewritten and the release manifest written
   and signed (`artifacts.build.seal_release`): the keys never leave this machine.

The reproducibility gate builds a second time on another worker (or here) and stops on any
differing file; `build.test-source` hands the arrived archive to a worker (through the
master) with its SHA-256, and the worker checks it before testing.

Worker facts (worker, platform, Python, relman, the build's URL and log) go into the steps'
outputs, so the journal, `relman show --json` and the diary have them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifacts.checksums import sha256_file
from ..artifacts.manifest import DOCS, SOURCE, expected_files, get_profile
from ..artifacts.release_manifest import load_release_manifest, manifest_spec
from ..ci.buildbot_worker import OUT_MARKER, current_user, parse_report
from ..ci.executor import BuildJob, Executor, JobResult
from ..engine.secrets import redact_file
from ..engine.step import StepContext
from ..errors import CheckFailed, StepFailed, UsageError
from .context import Release, release_of

JOB_DIR = "relman"                  # the job's folder on a worker, relative to its builder's folder
WORKER_OUT = f"{JOB_DIR}/out"


@dataclass(frozen=True)
class RemoteSource:
    url: str
    tag: str
    commit: str

    def as_dict(self) -> dict[str, str]:
        return {"url": self.url, "tag": self.tag, "commit": self.commit}


def is_remote(executor: Executor) -> bool:
    """Whether the executor's workers see none of this machine's files."""
    return not getattr(executor, "shares_filesystem", True)


def fork_url_for_workers(release: Release, resources: Mapping[str, Any] | None = None) -> str:
    """The URL workers fetch the tag from: the run's `worker_fork_url` resource (the demo's git
    daemon), [build] worker_fork_url, else the fork remote's URL."""
    configured = (resources or {}).get("worker_fork_url") or release.settings.build.worker_fork_url
    if configured:
        return configured
    fork = release.settings.remotes.fork
    url = fork
    if "://" not in fork and not Path(fork).is_absolute() and ":" not in fork:
        done = subprocess.run(["git", "remote", "get-url", fork], cwd=release.repo, capture_output=True, text=True, check=False)
        url = done.stdout.strip() if done.returncode == 0 else ""
    if not url or "://" not in url and (":" not in url or Path(url).exists()) or url.startswith("file://"):
        raise UsageError(f"remote build workers cannot fetch from the fork {fork!r} ({url or 'no URL'}): "
                         "it is a path on this machine",
                         hint="set [build] worker_fork_url to a URL the workers can reach (https://, ssh://, git://)")
    return url


def remote_tag(url: str, tag: str) -> str | None:
    """The commit `tag` names at `url`, asked from here (`git ls-remote`), or None when it is not there."""
    done = subprocess.run(["git", "ls-remote", url, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}"],
                          capture_output=True, text=True, check=False,
                          env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"})
    if done.returncode:
        raise StepFailed(f"git ls-remote {url} failed: {done.stderr.strip()[-300:]}",
                         hint="check [build] worker_fork_url and that the fork is reachable")
    refs: dict[str, str] = {}
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        refs[ref] = sha
    return refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")


def fork_tag(ctx: StepContext) -> dict:
    """Step build.fork-tag: the tag is on the fork the workers fetch from, at the tagged commit."""
    release = release_of(ctx)
    tag = ctx.dep("source.tag")
    source = RemoteSource(fork_url_for_workers(release, ctx.resources), str(tag.get("tag")), str(tag.get("commit")))
    found = remote_tag(source.url, source.tag)
    if found != source.commit:
        raise CheckFailed(f"the fork {source.url} has {source.tag} at {found or 'nothing'}, not at {source.commit}",
                          hint="push the tag to the fork (source.push-fork) and run again")
    return source.as_dict()


def _source(ctx: StepContext) -> RemoteSource:
    found = ctx.dep("build.fork-tag") or fork_tag(ctx)
    return RemoteSource(found["url"], found["tag"], found["commit"])


def _run(ctx: StepContext, job: BuildJob) -> JobResult:
    def on_event(job_id: str, kind: str, message: str) -> None:
        if kind in ("started", "finished") or message:
            ctx.log(f"{job_id} {kind}" + (f": {message}" if message else ""))

    executor: Executor = ctx.resources["executor"]
    result = executor.run([job], on_event=on_event)[job.id]
    redact = ctx.resources.get("redact", lambda text: text)
    if result.log_path is not None:
        redact_file(Path(result.log_path), redact)
    if not result.ok:
        raise StepFailed(f"build job {job.id} failed on {result.where or executor.name}:\n"
                         f"{redact(result.error or '')}".rstrip(),
                         hint=f"full log: {result.log_path}; fix the cause and run again to resume")
    return result


def worker_command(ctx: StepContext) -> list[str]:
    """How a worker runs its own relman: the run's `worker_command` resource, else [build] worker_command."""
    return list(ctx.resources.get("worker_command") or release_of(ctx).settings.build.worker_command)


def build_job(release: Release, source: RemoteSource, job_id: str, incoming: Path, *, command: list[str],
              worker: str | None = None) -> BuildJob:
    argv = [*command, "worker", "build", release.version.text, "--url", source.url,
            "--tag", source.tag, "--commit", source.commit, "--profile", release.settings.profile,
            "--checkout", "src", "-o", "out"]
    if not release.settings.build.docs:
        argv.append("--no-docs")
    return BuildJob(job_id, tuple(argv), cwd=Path(JOB_DIR), output_dir=incoming,
                    env={"RELMAN_TAG": source.tag, "RELMAN_COMMIT": source.commit},
                    timeout=release.settings.build.timeout_s, worker_output_dir=WORKER_OUT, worker=worker)


def worker_record(job: str, report: dict[str, Any] | None, result: JobResult) -> dict[str, Any]:
    """What the journal keeps about who built what. `same_user`: the worker said it ran as this
    release manager on this machine — a build that was NOT isolated from the RM's keys and files
    (the fallback without root), which `relman show` and the diary then say."""
    facts = (report or {}).get("facts") or {}
    info = result.info
    return {"job": job, "worker": info.get("worker") or facts.get("worker"), "host": facts.get("host"),
            "user": facts.get("user"), "platform": facts.get("platform"), "python": facts.get("python"),
            "relman": facts.get("relman"), "build_url": info.get("build_url"), "log": info.get("log"),
            "where": result.where, "retried_after": info.get("retried_after") or [],
            "same_user": facts.get("user") == current_user() and facts.get("host") == socket.gethostname(),
            "duration_s": round(result.duration_s, 3)}


def run_remote_build(ctx: StepContext, release: Release, source: RemoteSource, job_id: str, *,
                     worker: str | None = None) -> tuple[Path, dict[str, Any], JobResult]:
    """Build on a worker; return (the folder the files arrived in, the worker's report, the job result),
    after checking every arrived file against the report (`check_arrival`)."""
    if getattr(ctx.resources["executor"], "drop_dir", True) is None:
        raise UsageError("remote workers send their files back through the master's drop dir, and none is set",
                         hint="set [build] drop_dir to the master's drop folder as seen from this machine")
    incoming = release.work_dir / "incoming" / job_id
    if incoming.exists():
        shutil.rmtree(incoming)
    incoming.mkdir(parents=True)
    result = _run(ctx, build_job(release, source, job_id, incoming, command=worker_command(ctx), worker=worker))
    log_text = Path(result.log_path).read_text(errors="replace") if result.log_path else ""
    report = parse_report(log_text)
    marker = incoming / OUT_MARKER
    if marker.exists():
        marker.unlink()
    check_arrival(incoming, report, source, release.version.text, where=result.where or job_id)
    return incoming, report or {}, result


def check_arrival(incoming: Path, report: dict[str, Any] | None, source: RemoteSource, version: str, *,
                  where: str) -> None:
    """The files that arrived are exactly the ones the worker reported (name, size, SHA-256), built
    from the commit asked for. Raises CheckFailed naming every difference; nothing is signed then."""
    if report is None:
        raise CheckFailed(f"the build on {where} printed no relman-worker-report line; its files are not trusted",
                          hint="is the worker's relman this version? (relman worker build)")
    problems = []
    if report.get("commit") != source.commit:
        problems.append(f"the worker built commit {report.get('commit')}, not {source.commit} ({source.tag})")
    if report.get("tag") != source.tag or report.get("version") != version:
        problems.append(f"the worker built {report.get('version')} from {report.get('tag')}, "
                        f"not {version} from {source.tag}")
    reported = {f["name"]: f for f in report.get("files") or []}
    arrived = {p.relative_to(incoming).as_posix(): p for p in incoming.rglob("*") if p.is_file()}
    for name in sorted(set(reported) - set(arrived)):
        problems.append(f"{name}: reported by the worker but did not arrive")
    for name in sorted(set(arrived) - set(reported)):
        problems.append(f"{name}: arrived but the worker did not report it")
    for name in sorted(set(arrived) & set(reported)):
        digest, size = sha256_file(arrived[name])
        if size != reported[name].get("size") or digest != reported[name].get("sha256"):
            problems.append(f"{name}: arrived with {size} bytes, SHA-256 {digest}; the worker reported "
                            f"{reported[name].get('size')} bytes, SHA-256 {reported[name].get('sha256')}")
    if problems:
        raise CheckFailed(f"the files built on {where} do not match what was asked for; nothing was signed:\n  "
                          + "\n  ".join(problems), where=str(incoming),
                          hint="rebuild on another worker; if it repeats, inspect the worker")


def sign_at_home(release: Release, incoming: Path, source: RemoteSource, workers: list[dict[str, Any]]) -> dict:
    """Check the unsigned manifest, SHA256SUMS and SBOMs of the arrived files, then sign here and
    write the signed manifest into the run's artifacts folder; return the build summary."""
    from ..artifacts.build import seal_release
    from ..artifacts.signing import signers_from_config
    from ..artifacts.verify import verify_folder

    prof = get_profile(release.settings.profile)
    spec = manifest_spec(prof, release.version)
    worker_manifest_path = incoming / spec.name
    if not worker_manifest_path.is_file():
        raise CheckFailed(f"the worker's build has no {spec.name}", where=str(incoming))
    report = verify_folder(worker_manifest_path, allow_unsigned=True)
    if not report.ok:
        raise CheckFailed("the files built on the worker do not check out (manifest, SHA256SUMS, SBOM hashes); "
                          "nothing was signed:\n" + "\n".join(f"  {p.file}: {p.message}" for p in report.problems),
                          where=str(incoming))
    document = load_release_manifest(worker_manifest_path.read_bytes(), where=str(worker_manifest_path))
    if document.get("commit") != source.commit or document.get("tag") != source.tag:
        raise CheckFailed(f"the worker's manifest names {document.get('tag')} at {document.get('commit')}, "
                          f"not {source.tag} at {source.commit}; nothing was signed", where=str(worker_manifest_path))
    built_names = {f["name"] for f in document["files"]}
    specs = [s for s in expected_files(prof, release.version, producer=SOURCE)
             + expected_files(prof, release.version, producer=DOCS) if s.name in built_names]
    out = release.artifacts_dir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    known: dict[str, tuple[str, int]] = {}
    for s in specs:
        for name in (s.name, *s.sidecars):
            if (incoming / name).is_file():
                shutil.copy2(incoming / name, out / name)
                known[name] = sha256_file(out / name)
    signing = release.settings.signing
    signers = signers_from_config(signing.model_dump())
    built = dict(document.get("built") or {})
    built.pop("tool", None)
    built["workers"] = [{k: w.get(k) for k in ("job", "worker", "platform", "python", "relman", "build_url")}
                        for w in workers]
    built["signed"] = "here, after the worker's files arrived and matched its report" if signers else "unsigned"
    seal_release(out, profile=prof, version=release.version, specs=specs, tag=source.tag, commit=source.commit,
                 source_date_epoch=document.get("source_date_epoch"), built=built, signers=signers, known=known)
    return {"directory": str(out), "manifest": str(out / spec.name)}


def build_artifacts_remote(ctx: StepContext) -> dict:
    """Step build.artifacts on remote workers (see the module docstring)."""
    from .build import _manifest, _summary

    release = release_of(ctx)
    source = _source(ctx)
    incoming, report, result = run_remote_build(ctx, release, source, "build-release-files")
    workers = [worker_record("build-release-files", report, result)]
    sign_at_home(release, incoming, source, workers)
    manifest = _manifest(release)
    if manifest is None:
        raise StepFailed(f"no release manifest was written into {release.artifacts_dir}")
    w = workers[0]
    ctx.log(f"built {len(report.get('files') or [])} files on worker {w['worker']} ({w['platform']}, Python "
            f"{w['python']}, relman {w['relman']}) in {result.duration_s:.1f} s; checked and signed here")
    return {**_summary(release, manifest), "workers": workers, "drop": result.info.get("drop"),
            "incoming": str(incoming), "fork": source.as_dict()}


def check_reproducible_remote(ctx: StepContext) -> dict:
    """The gate: a second, independent build (another worker, or here) must give identical files."""
    from ..artifacts.archive import build_source_archives
    from ..artifacts.build import default_news_hook

    release = release_of(ctx)
    source = _source(ctx)
    built = ctx.dep("build.artifacts")
    first_worker = (built.get("workers") or [{}])[0].get("worker")
    first_dir = Path(built.get("incoming") or release.artifacts_dir)
    resealed: set[str] = set()
    if not first_dir.is_dir():   # the worker's copy is gone (work folder cleaned): the files kept here,
        first_dir = release.artifacts_dir      # less what signing here added or rewrote
        resealed = {"SHA256SUMS", manifest_spec(release.settings.profile, release.version).name}
    first = {p.name: sha256_file(p)[0] for p in first_dir.iterdir() if p.is_file()
             and p.name not in resealed and not p.name.endswith((".asc", ".sigstore"))}
    where = release.settings.build.reproducible_on
    others: list[str] = []
    if where in ("auto", "worker"):
        connected: list[str] = getattr(ctx.resources["executor"], "connected_workers", list)()
        others = [w for w in connected if w != first_worker]
        if where == "worker" and not others:
            raise CheckFailed(f"the reproducibility gate needs a second worker besides {first_worker}; none is "
                              "connected", hint="start another worker, or set [build] reproducible_on = \"home\"")
    if others:
        incoming, report, result = run_remote_build(ctx, release, source, "rebuild-release-files", worker=others[0])
        second = {f["name"]: f["sha256"] for f in report.get("files") or [] if f["name"] not in resealed}
        second_by = worker_record("rebuild-release-files", report, result)
        compared = sorted(set(first) & set(second))
        differing = sorted(n for n in compared if first[n] != second[n])
        missing = sorted(set(first) ^ set(second))
        label = f"worker {second_by['worker']}"
        scratch = incoming
    else:
        profile = get_profile(release.settings.profile)
        scratch = release.work_dir / "rebuild"
        if scratch.exists():
            shutil.rmtree(scratch)
        again = build_source_archives(release.repo, release.version, scratch, profile=profile, ref=source.tag,
                                      generate=default_news_hook(profile, release.version))
        compared = sorted(f.name for f in again.files)
        differing = [f.name for f in again.files if first.get(f.name) != f.sha256]
        missing = []
        second_by = {"job": "rebuild-source-archives", "worker": "release manager's machine"}
        label = "this machine"
    if differing or missing:
        raise CheckFailed(f"not reproducible: the build on worker {first_worker} and the build on {label} differ in "
                          + ", ".join(differing + [f"{n} (only in one)" for n in missing]),
                          hint=f"compare {first_dir} with {scratch} (diffoscope helps); nothing was published")
    ctx.log(f"{len(compared)} files identical on worker {first_worker} and {label}")
    return {"identical": compared, "first": first_worker, "second": second_by}


def run_test_source_remote(ctx: StepContext) -> dict:
    """test-source on a worker: the arrived archive goes to it through the master, with its SHA-256."""
    from .build import source_archive

    release = release_of(ctx)
    built = ctx.dep("build.artifacts")
    archive = source_archive(release)
    digest = next((f["sha256"] for f in built.get("files") or [] if f["name"] == archive.name), None)
    if digest is None or not built.get("drop"):
        raise StepFailed(f"build.artifacts recorded no digest or drop copy of {archive.name}",
                         hint="run build.artifacts again (relman run … --fresh)")
    job = BuildJob("test-source", (*worker_command(ctx), "worker", "test-source",
                                   f"in/{archive.name}", "--sha256", digest, "--profile", release.settings.profile,
                                   "--work-dir", "test-source"),
                   cwd=Path(JOB_DIR), output_dir=release.work_dir / "incoming" / "test-source",
                   timeout=release.settings.build.timeout_s, worker_output_dir=f"{JOB_DIR}/test-source-out",
                   worker_input=(f"{built['drop']}/{archive.name}", f"{JOB_DIR}/in/{archive.name}"))
    result = _run(ctx, job)
    report = parse_report(Path(result.log_path).read_text(errors="replace") if result.log_path else "")
    if report is None or report.get("sha256") != digest:
        raise CheckFailed(f"the worker tested {report.get('sha256') if report else 'an unknown file'}, not "
                          f"{archive.name} ({digest})", where=str(result.log_path))
    return {"archive": archive.name, "duration_s": round(result.duration_s, 3), "log": str(result.log_path),
            "where": result.where, "workers": [worker_record("test-source", report, result)]}


def worker_lines(outputs: Mapping[str, Any]) -> list[str]:
    """For people: who built a step's files (`relman show`), from its `workers` records."""
    records = list(outputs.get("workers") or [])
    second = outputs.get("second")
    if isinstance(second, dict) and second.get("job"):
        records.append(second)
    return [f"{w.get('job')}: worker {w.get('worker')} ({w.get('user')}@{w.get('host')}, {w.get('platform')}, "
            f"Python {w.get('python')}, relman {w.get('relman')})"
            f"{' — same user as the release manager, NOT isolated' if w.get('same_user') else ''}"
            f" {w.get('build_url') or ''}".rstrip()
            for w in records if isinstance(w, dict)]
