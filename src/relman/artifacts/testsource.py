"""test-source: unpack a source archive into a fresh folder and run the profile's build and
test commands there (the sample project: `make`, `make test`; CPython: configure, make,
make install, `python3 -m test`). A failure raises StepFailed with the tail of the output.

Runnable as a process for the build executor:
    python -m relman.artifacts.testsource Python-3.14.0.tgz --profile demo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RelmanError, StepFailed, UsageError
from .manifest import ArtifactProfile, get_profile

TAIL_LINES = 40


@dataclass
class TestSourceResult:
    ok: bool
    archive: Path
    tree: Path
    log_path: Path
    commands: list[list[str]] = field(default_factory=list)
    duration_s: float = 0.0
    tail: str = ""

    def as_dict(self) -> dict:
        return {"ok": self.ok, "archive": str(self.archive), "tree": str(self.tree), "log": str(self.log_path),
                "commands": self.commands, "duration_s": round(self.duration_s, 3), "tail": self.tail}


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The members, refusing what the "data" filter refuses: absolute or escaping names and links,
    device files; permissions limited as that filter does."""
    members = []
    for member in tar.getmembers():
        parts = Path(member.name).parts
        target = Path(os.path.normpath(Path(member.name).parent / member.linkname)) if member.issym() else \
            Path(os.path.normpath(member.linkname)) if member.islnk() else None
        if member.name.startswith("/") or ".." in parts or member.isdev() \
                or (target is not None and (target.is_absolute() or target.parts[:1] == ("..",))):
            raise tarfile.TarError(f"unsafe member {member.name!r}")
        member.mode &= 0o755
        members.append(member)
    return members


def unpack(archive: Path, dest: Path) -> Path:
    """Extract safely (no absolute paths, no links out of `dest`); return the single root folder."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:   # Python 3.11.0-3.11.3 (e.g. a build worker's system Python) has no extraction filters
                tar.extractall(dest, members=_safe_members(tar))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise StepFailed(f"cannot unpack {archive.name}: {exc}", where=str(archive)) from None
    roots = [p for p in dest.iterdir()]
    if len(roots) != 1 or not roots[0].is_dir():
        raise StepFailed(f"{archive.name} must hold exactly one top folder, found: "
                         + ", ".join(sorted(p.name for p in roots)), where=str(archive))
    return roots[0]


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    text = path.read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def source_commands(profile: ArtifactProfile, build_command: Sequence[str] | None = None,
                    test_command: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """The commands test-source runs: the profile's build commands then its test command, with the
    configured `build_command` (replacing every build command) and `test_command` when given."""
    builds, test = list(profile.test_commands[:-1]), profile.test_commands[-1] if profile.test_commands else None
    if build_command:
        builds = [tuple(build_command)]
    if test_command:
        test = tuple(test_command)
    return builds + ([test] if test else [])


def test_source(archive: Path, *, profile: ArtifactProfile | str, work_dir: Path | None = None,
                jobs: int | None = None, timeout: float = 3600.0, log_path: Path | None = None,
                build_command: Sequence[str] | None = None,
                test_command: Sequence[str] | None = None) -> TestSourceResult:
    """Unpack `archive` into a fresh folder under `work_dir` and run the build and test commands
    (`source_commands`)."""
    prof = get_profile(profile)
    archive = Path(archive).resolve()
    if not archive.is_file():
        raise UsageError(f"no archive at {archive}")
    planned = source_commands(prof, build_command, test_command)
    if not planned:
        raise UsageError(f"profile {prof.name!r} has no test-source commands",
                         hint="set [build] build_command and test_command")
    base = Path(tempfile.mkdtemp(prefix="test-source-", dir=work_dir))
    tree = unpack(archive, base / "src")
    prefix = base / "installation"
    log_path = log_path or base / "test-source.log"
    jobs = jobs or os.cpu_count() or 2
    started = time.perf_counter()
    commands = [[arg.format(prefix=prefix, jobs=jobs) for arg in cmd] for cmd in planned]
    deadline = started + timeout
    result = TestSourceResult(False, archive, tree, log_path, commands)
    with open(log_path, "w") as log:
        for argv in commands:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            remaining = deadline - time.perf_counter()
            try:
                proc = subprocess.run(argv, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                                      timeout=max(1.0, remaining), stdin=subprocess.DEVNULL)
                code = proc.returncode
            except FileNotFoundError:
                log.write(f"command not found: {argv[0]}\n")
                code = 127
            except subprocess.TimeoutExpired:
                log.write(f"timed out after {timeout:.0f} s\n")
                code = -1
            log.flush()
            if code != 0:
                result.duration_s = time.perf_counter() - started
                result.tail = _tail(log_path)
                raise StepFailed(f"test-source failed: `{' '.join(argv)}` exited {code} in the unpacked "
                                 f"{archive.name}\n--- last lines of {log_path} ---\n{result.tail}",
                                 where=str(tree), hint="commit the fix on the temporary release branch, then make a "
                                                       "new release commit and tag: `relman run VERSION --redo "
                                                       "source.release-commit`")
    result.ok = True
    result.duration_s = time.perf_counter() - started
    result.tail = _tail(log_path)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relman.artifacts.testsource",
                                     description="Unpack a source archive and run the profile's build and tests.")
    parser.add_argument("archive", type=Path)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--build-command", type=json.loads, default=None, help="JSON list: replaces the build commands")
    parser.add_argument("--test-command", type=json.loads, default=None, help="JSON list: replaces the test command")
    args = parser.parse_args(argv)
    try:
        result = test_source(args.archive, profile=args.profile, work_dir=args.work_dir, timeout=args.timeout,
                             build_command=args.build_command, test_command=args.test_command)
    except RelmanError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"test-source passed: {args.archive.name} ({result.duration_s:.1f} s, log {result.log_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
