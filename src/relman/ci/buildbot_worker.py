"""The worker's side of a remote build job (`relman worker build`, `relman worker test-source`).

A worker shares nothing with the release manager's machine: it gets a remote URL, a tag and
the commit SHA the tag must point to, and it runs relman from its own environment. It

1. fetches exactly that tag from the URL into a fresh repository of its own and refuses to
   build when the tag points anywhere else (a moved tag, a wrong remote, a tampered fetch);
2. builds the release files **unsigned** (keys never leave the release manager: signing,
   SHA256SUMS over the signatures and the signed manifest are done at home);
3. prints one report line, `relman-worker-report: {json}`, naming the commit it built, every
   file it wrote with its size and SHA-256, and the worker's facts (name, platform, Python and
   relman versions). The report travels in the build's log, not with the files, so files
   changed on their way through the master do not match it.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CheckFailed, ExternalServiceError, UsageError

REPORT_PREFIX = "relman-worker-report: "
OUT_MARKER = ".relman-worker-out"     # marks an output folder this command may empty


def current_user() -> str:
    """This process's user name (its uid when the uid has no name, as in some containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def worker_facts() -> dict[str, Any]:
    """Who built: the Buildbot worker's name (RELMAN_WORKER, set by the release master), the host,
    the platform and the versions of Python and relman that ran the build."""
    return {"worker": os.environ.get("RELMAN_WORKER") or socket.gethostname(), "host": socket.gethostname(),
            "user": current_user(), "platform": platform.platform(), "machine": platform.machine(),
            "python": platform.python_version(), "python_implementation": platform.python_implementation(),
            "relman": __version__}


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, GIT_TERMINAL_PROMPT="0"), check=False)
    if done.returncode:
        raise ExternalServiceError(f"git {' '.join(args)} failed (exit {done.returncode}): "
                                   f"{(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout.strip()


def check_request(url: str, tag: str, commit: str) -> None:
    if not url or not tag or len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
        raise UsageError(f"a remote build needs --url, --tag and the full 40-hex --commit (got {commit!r})",
                         hint="the release manager's relman fills these in from the pushed tag")


def fetch_commit(url: str, tag: str, commit: str, checkout: Path) -> str:
    """Fetch `tag` from `url` into a fresh repository at `checkout`; return the commit it names.

    Raises CheckFailed when the tag does not point to `commit` (nothing is built then)."""
    check_request(url, tag, commit)
    if checkout.exists():
        shutil.rmtree(checkout)
    checkout.mkdir(parents=True)
    _git("init", "-q", str(checkout))
    _git("fetch", "-q", "--no-tags", "--depth=1", url, f"+refs/tags/{tag}:refs/tags/{tag}", cwd=checkout)
    got = _git("rev-parse", f"refs/tags/{tag}^{{commit}}", cwd=checkout)
    if got != commit:
        raise CheckFailed(f"the tag {tag} at {url} points to {got}, not to the commit asked for, {commit}",
                          hint="the tag moved on the fork after it was pushed, or the job names the wrong "
                               "remote; nothing was built")
    return got


def prepare_out(out: Path) -> None:
    """Empty `out` for a new build: only a folder this command made (marked) or an empty one."""
    if out.exists() and any(out.iterdir()) and not (out / OUT_MARKER).exists():
        raise UsageError(f"{out} is not empty and was not made by `relman worker build`; refusing to empty it",
                         hint="give an empty or new folder to -o")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / OUT_MARKER).write_text("made by relman worker build; emptied by the next one\n")


def files_report(out: Path) -> list[dict[str, Any]]:
    from ..artifacts.checksums import sha256_file

    files = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != OUT_MARKER):
        digest, size = sha256_file(path)
        files.append({"name": path.relative_to(out).as_posix(), "size": size, "sha256": digest})
    return files


def build_from_remote(version: str, *, url: str, tag: str, commit: str, out: Path, checkout: Path,
                      profile: str, docs: bool = True, security: bool = False) -> dict[str, Any]:
    """Fetch, check, build unsigned into `out`; return the report (see the module's docstring)."""
    from ..artifacts.build import build_release_artifacts, default_news_hook
    from ..artifacts.manifest import get_profile
    from ..version import Version

    v = Version.parse(version)
    prof = get_profile(profile)
    check_request(url, tag, commit)
    prepare_out(out)
    fetched = fetch_commit(url, tag, commit, checkout)
    result = build_release_artifacts(checkout, v, out, profile=prof, generate=default_news_hook(prof, v),
                                     signers=(), docs=docs, security=security, ref=tag)
    if result.source.commit != fetched:
        raise CheckFailed(f"built {result.source.commit}, but fetched {fetched}")
    return {"version": v.text, "tag": tag, "commit": result.source.commit, "url": url, "profile": prof.name,
            "unsigned": True, "files": files_report(out), "facts": worker_facts(),
            "wall_s": round(result.wall_s, 3)}


def test_source_remote(archive: Path, *, sha256: str, profile: str, work_dir: Path) -> dict[str, Any]:
    """Check the archive the master handed over is the one asked for, then unpack, build and test it."""
    from ..artifacts import testsource
    from ..artifacts.checksums import sha256_file
    from ..artifacts.manifest import get_profile

    digest, size = sha256_file(archive)
    if digest != sha256:
        raise CheckFailed(f"{archive.name} has SHA-256 {digest}, not the {sha256} asked for; not tested")
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    result = testsource.test_source(archive, profile=get_profile(profile), work_dir=work_dir)
    return {"archive": archive.name, "sha256": digest, "size": size, "facts": worker_facts(),
            "duration_s": round(result.duration_s, 3)}


def report_line(report: dict[str, Any]) -> str:
    return REPORT_PREFIX + json.dumps(report, sort_keys=True)


def parse_report(log_text: str) -> dict[str, Any] | None:
    """The last report line in a job's log, or None when the job printed none."""
    found = None
    for line in log_text.splitlines():
        if line.startswith(REPORT_PREFIX):
            try:
                value = json.loads(line[len(REPORT_PREFIX):])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found = value
    return found


__all__ = ["REPORT_PREFIX", "build_from_remote", "fetch_commit", "parse_report", "report_line",
           "test_source_remote", "worker_facts"]
