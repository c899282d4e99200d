"""Docs: build the profile's Sphinx documentation from the tag and package it.

Only release candidates and finals ship docs (`Version.includes_docs`); for others
`build_docs` returns a skipped result. The tree comes from the tag (with the generated files
of the news hook, before `Misc/NEWS.d` is removed, as CPython does), Sphinx runs once per
format with `SOURCE_DATE_EPOCH` set to the tag's time, a check fails on any "(unreleased)"
left in the HTML, and each format is packaged as the artifact manifest lists it (zip,
tar.bz2) with sorted entries and fixed times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckFailed, StepFailed, UsageError
from ..version import Version
from .archive import (DIR, FILE, BuiltFile, GenerateHook, TreeEntry, bz2_bytes, read_tree, tar_bytes,
                      write_file)
from .manifest import DOCS, ArtifactProfile, ArtifactSpec, expected_files, get_profile

UNRELEASED = "(unreleased)"


@dataclass
class DocsBuild:
    version: str
    skipped: bool
    files: list[BuiltFile] = field(default_factory=list)
    build_dir: Path | None = None
    log_path: Path | None = None
    reason: str = ""
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return {"version": self.version, "skipped": self.skipped, "reason": self.reason,
                "files": [f.as_dict() for f in self.files], "log": str(self.log_path) if self.log_path else None,
                "wall_s": round(self.wall_s, 3)}


def check_unreleased(html_dir: Path) -> list[str]:
    """`file:line: text` for each "(unreleased)" left in the built HTML."""
    found = []
    for path in sorted(html_dir.rglob("*.html")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if UNRELEASED in line:
                found.append(f"{path.relative_to(html_dir)}:{number}: {line.strip()[:120]}")
    return found


def _entries_of(folder: Path) -> list[TreeEntry]:
    entries = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            continue
        if path.is_dir():
            entries.append(TreeEntry(rel, DIR, 0o755))
        else:
            entries.append(TreeEntry(rel, FILE, 0o644, data=path.read_bytes()))
    return sorted(entries, key=lambda e: tuple(e.path.split("/")))


def zip_bytes(entries: Sequence[TreeEntry], root: str, epoch: int) -> bytes:
    """A deterministic zip: sorted, fixed times and permissions, deflate level 9."""
    import io
    stamp = time.gmtime(max(epoch, 315532800))[:6]   # zip cannot store times before 1980
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for e in [TreeEntry("", DIR, 0o755), *entries]:
            name = f"{root}/{e.path}".rstrip("/") + ("/" if e.kind == DIR else "")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3
            if e.kind == DIR:
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, e.data, compresslevel=9)
    return buffer.getvalue()


def package_docs(built: Path, spec: ArtifactSpec, root: str, epoch: int, out_dir: Path) -> BuiltFile:
    """Package one built format as the artifact `spec` (zip or tar.bz2; epub is copied)."""
    if spec.name.endswith(".epub"):
        epubs = sorted(built.glob("*.epub"))
        if not epubs:
            raise StepFailed(f"the epub builder produced no .epub in {built}")
        return write_file(out_dir / spec.name, epubs[0].read_bytes())
    entries = _entries_of(built)
    if spec.compression == "zip":
        data = zip_bytes(entries, root, epoch)
    elif spec.compression == "tar.bz2":
        data = bz2_bytes(tar_bytes(entries, root, epoch))
    else:
        raise UsageError(f"cannot package docs as {spec.name}: use .zip, .tar.bz2 or .epub")
    return write_file(out_dir / spec.name, data)


def sphinx_command(source: Path, out: Path, builder: str, doctrees: Path) -> list[str]:
    return [sys.executable, "-m", "sphinx", "-b", builder, "-q", "-E", "-d", str(doctrees), str(source), str(out)]


def build_docs(repo: Path, version: Version | str, out_dir: Path, *, profile: ArtifactProfile | str,
               generate: GenerateHook | None = None, ref: str | None = None, work_dir: Path | None = None,
               security: bool = False, timeout: float = 1800.0) -> DocsBuild:
    """Build and package the docs of `version` from its tag (skipped before rc1)."""
    started = time.perf_counter()
    prof = get_profile(profile)
    v = version if isinstance(version, Version) else Version.parse(version)
    specs = expected_files(prof, v, security, producer=DOCS)
    if not v.includes_docs or not specs:
        return DocsBuild(v.text, True, reason=f"{v} is not a release candidate or final: no docs")
    if not prof.docs_source:
        raise UsageError(f"profile {prof.name!r} lists docs artifacts but no docs source folder")
    tree = read_tree(Path(repo), ref or v.git_tag)
    files = {e.path: e.data for e in tree.entries if e.kind == FILE}
    if generate is not None:
        for path, data in generate(files).items():
            if data is None:
                files.pop(path, None)
            else:
                files[path] = bytes(data)
    base = Path(tempfile.mkdtemp(prefix="relman-docs-", dir=work_dir))
    src = base / "src"
    for path, data in files.items():
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    doc_src = src / prof.docs_source
    if not (doc_src / "conf.py").is_file():
        raise UsageError(f"{prof.docs_source}/conf.py is not in {v.git_tag}",
                         hint="the docs build needs a Sphinx project at the profile's docs_source")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(tree.commit_time), "LC_ALL": "C.UTF-8"}
    log_path = base / "docs.log"
    wanted = {s.docs_format for s in specs if s.docs_format}
    built_dirs: dict[str, Path] = {}
    with open(log_path, "w") as log:
        for fmt, builder in prof.docs_builders:
            if fmt not in wanted:
                continue
            out = base / "build" / fmt
            argv = sphinx_command(doc_src, out, builder, base / "doctrees" / fmt)
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            try:
                proc = subprocess.run(argv, cwd=doc_src, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      timeout=timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise StepFailed(f"the {fmt} docs build timed out after {timeout:.0f} s",
                                 where=str(log_path)) from None
            if proc.returncode != 0:
                log.flush()
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise StepFailed(f"the {fmt} docs build failed (exit {proc.returncode})\n{tail}",
                                 where=str(log_path), hint="fix the docs on the release branch and tag again")
            built_dirs[fmt] = out
    if "html" in built_dirs:
        leftovers = check_unreleased(built_dirs["html"])
        if leftovers:
            shown = "\n  ".join(leftovers[:20])
            raise CheckFailed(f"the built HTML still says {UNRELEASED!r} in {len(leftovers)} place(s):\n  {shown}",
                              hint="replace `.. versionadded:: next` and friends with the version (relman bump), "
                                   "then tag again")
    missing = sorted(wanted - set(built_dirs))
    if missing:
        raise UsageError(f"profile {prof.name!r} has no builder for docs format(s) {', '.join(missing)}")
    result = DocsBuild(v.text, False, build_dir=base / "build", log_path=log_path)
    for spec in specs:
        fmt = spec.docs_format or "html"
        root = prof.docs_root.format(version=v.text, format=fmt)
        result.files.append(package_docs(built_dirs[fmt], spec, root, tree.commit_time, Path(out_dir)))
    result.wall_s = time.perf_counter() - started
    return result
