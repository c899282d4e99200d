"""Reproducible source archives (`.tgz`, `.tar.xz`), built in-process from a git tag.

The tree comes from the tag (`git archive` of the tagged commit, read as a stream), never
from the working tree. The profile's export rules are applied in memory: generated files
(the merged `Misc/NEWS`) come from a hook the caller supplies, `Misc/NEWS.d`, `.github`,
`.gitignore`, `.gitattributes`, `__pycache__`, `*.pyc` and the like are removed, and a
symlink that points outside the tree stops the build.

The tar is written once, in memory, and both compressors are fed the same bytes in parallel:

- entries sorted by path components (a directory, then its children; like GNU tar --sort=name);
- every mtime clamped to the tagged commit's time; uid/gid 0 with empty owner names;
- modes normalised: 0755 for directories and executables, 0644 for files, 0777 for symlinks;
- PAX format without atime/ctime; padded to 10240-byte records;
- gzip: raw deflate (libdeflate; zlib as a fallback) at the profile's level under a fixed header
  (no name, mtime 0, OS Unix);
- xz: the `xz` binary in block mode (`--block-size` derived from the tar's size and the
  profile's block count), multi-threaded. Its output depends on the block size, never on the
  number of threads, so two machines with the same xz produce the same bytes.

pigz is deliberately not used: an optional external tool would make the `.tgz` depend on
whether the machine has it. libdeflate comes with relman (the `deflate` package), releases the
GIL, and at level 9 is ~3× faster than zlib with slightly smaller output, so it runs in a
thread beside xz and the pair finishes in about half the shell pipeline's time.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import math
import os
import posixpath
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .. import __version__
from ..errors import STORAGE_ERRNOS, CheckFailed, UsageError, storage_error
from ..vcs import Git
from ..version import Version
from .manifest import SOURCE, ArtifactProfile, expected_files, get_profile

FILE, DIR, SYMLINK = "file", "dir", "symlink"

# A hook that generates files from the tree: it receives {path: bytes} of every regular file of
# the tag (before anything is removed) and returns {path: bytes} to add or replace, or
# {path: None} to delete.
GenerateHook = Callable[[Mapping[str, bytes]], Mapping[str, bytes | None]]


@dataclass(frozen=True)
class TreeEntry:
    path: str             # relative to the tree root, "/"-separated, no trailing slash
    kind: str             # file | dir | symlink
    mode: int             # permission bits
    data: bytes = b""     # file content
    target: str = ""      # symlink target


@dataclass
class GitTree:
    commit: str
    commit_time: int
    entries: list[TreeEntry]


@dataclass(frozen=True)
class Member:
    """A regular file inside a source archive, with the digests the SBOM needs."""

    path: str             # relative to the archive root folder
    size: int
    sha1: str
    sha256: str


@dataclass(frozen=True)
class BuiltFile:
    name: str
    path: Path
    size: int
    sha256: str

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "size": self.size, "sha256": self.sha256}


@dataclass
class ExportResult:
    entries: list[TreeEntry]
    removed: list[str] = field(default_factory=list)      # paths dropped by the export rules
    generated: list[str] = field(default_factory=list)    # paths written by the hook


@dataclass
class SourceBuild:
    """What `build_source_archives` produced, and how (for the release manifest)."""

    version: str
    tag: str
    commit: str
    source_date_epoch: int
    root: str
    files: list[BuiltFile]
    members: list[Member]
    removed: list[str]
    generated: list[str]
    build_info: dict
    wall_s: float = 0.0
    partial_sbom: bytes | None = None     # the profile's partial SBOM file from the tree, if any

    def file(self, name: str) -> BuiltFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)

    def as_dict(self) -> dict:
        return {"version": self.version, "tag": self.tag, "commit": self.commit,
                "source_date_epoch": self.source_date_epoch, "root": self.root,
                "files": [f.as_dict() for f in self.files], "members": len(self.members),
                "removed": self.removed, "generated": self.generated, "build_info": self.build_info,
                "wall_s": round(self.wall_s, 3)}


# ---- reading the tag ----------------------------------------------------------------------

def resolve_commit(repo: Path, ref: str) -> tuple[str, int]:
    """(commit sha, commit time) of a tag or any commit-ish; UsageError when it does not exist."""
    git = Git(repo)
    if not git.is_repo():
        raise UsageError(f"{repo} is not a git repository", hint="pass --repo pointing at the project checkout")
    commit = git.rev(ref)
    if commit is None:
        raise UsageError(f"{ref!r} does not exist in {repo}",
                         hint="tag the release first (the archives are built from the tag, not the working tree)")
    return commit, git.commit_time(commit)


def read_tree(repo: Path, ref: str) -> GitTree:
    """Every entry of `ref`'s tree, read through `git archive` (the export the shell pipeline uses)."""
    commit, commit_time = resolve_commit(repo, ref)
    raw = Git(repo).run("archive", "--format=tar", commit, text=False).stdout
    entries = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for info in tar:
            path = info.name.rstrip("/")
            if not path:
                continue
            if info.isdir():
                entries.append(TreeEntry(path, DIR, 0o755))
            elif info.issym():
                entries.append(TreeEntry(path, SYMLINK, 0o777, target=info.linkname))
            elif info.isreg():
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                entries.append(TreeEntry(path, FILE, 0o755 if info.mode & 0o111 else 0o644, data=data))
    return GitTree(commit, commit_time, entries)


# ---- export rules -------------------------------------------------------------------------

def _matches(path: str, pattern: str) -> bool:
    """Does `pattern` remove `path` (the path itself or one of its parent folders)?"""
    parts = path.split("/")
    if pattern.startswith("**/"):
        sub = pattern[3:]
        width = sub.count("/") + 1
        return any(fnmatchcase("/".join(parts[i:i + width]), sub) for i in range(len(parts) - width + 1))
    width = pattern.count("/") + 1
    return len(parts) >= width and fnmatchcase("/".join(parts[:width]), pattern)


def _escapes(path: str, target: str) -> bool:
    if not target or target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def export_tree(entries: Iterable[TreeEntry], profile: ArtifactProfile | str, *,
                generate: GenerateHook | None = None, symlinks: str = "error") -> ExportResult:
    """Apply the profile's export rules: generated files in, removed paths out, checked symlinks.

    `symlinks`: "error" (default) stops on a symlink escaping the tree; "drop" removes it."""
    prof = get_profile(profile)
    entries = list(entries)
    by_path = {e.path: e for e in entries}
    generated: list[str] = []
    removed: list[str] = []
    has_news = bool(prof.news_dir) and prof.news_dir in by_path
    if generate is None and has_news:
        raise UsageError(f"the tree has {prof.news_dir} but no news hook was given to merge it into "
                         f"{prof.news_output}",
                         hint="pass generate=news_hook(merge_function, profile)")
    if generate is not None:
        files = {e.path: e.data for e in entries if e.kind == FILE}
        for path, data in sorted(generate(files).items()):
            path = path.strip("/")
            if data is None:
                by_path.pop(path, None)
                continue
            by_path[path] = TreeEntry(path, FILE, 0o644, data=bytes(data))
            generated.append(path)
            parent = posixpath.dirname(path)
            while parent and parent not in by_path:
                by_path[parent] = TreeEntry(parent, DIR, 0o755)
                parent = posixpath.dirname(parent)
    rules = list(prof.export_remove) + ([prof.news_dir] if prof.news_dir else [])
    kept = []
    for path in sorted(by_path):
        entry = by_path[path]
        if path in generated:
            kept.append(entry)
            continue
        if any(_matches(path, rule) for rule in rules):
            removed.append(path)
            continue
        if entry.kind == SYMLINK and _escapes(path, entry.target):
            if symlinks == "drop":
                removed.append(path)
                continue
            raise CheckFailed(f"symlink {path} -> {entry.target} points outside the source tree",
                              where=path, hint="remove the link, or add it to the profile's export_remove rules")
        kept.append(entry)
    return ExportResult(sorted(kept, key=_sort_key), removed, generated)


def _sort_key(entry: TreeEntry) -> tuple[str, ...]:
    return tuple(entry.path.split("/"))


# ---- the tar stream -----------------------------------------------------------------------

RECORD = 10240
BLOCK = 512


def _header(name: str, kind: str, mode: int, size: int, mtime: int, target: str = "") -> bytes:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == DIR:
        info.type = tarfile.DIRTYPE
    elif kind == SYMLINK:
        info.type = tarfile.SYMTYPE
        info.linkname = target
    else:
        info.type = tarfile.REGTYPE
        info.size = size
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def tar_bytes(entries: Iterable[TreeEntry], root: str, mtime: int) -> bytes:
    """The uncompressed, normalised tar of `entries` under the folder `root`."""
    chunks = [_header(root, DIR, 0o755, 0, mtime)]
    for e in entries:
        name = f"{root}/{e.path}"
        if e.kind == FILE:
            mode = 0o755 if e.mode & 0o111 else 0o644
            chunks.append(_header(name, FILE, mode, len(e.data), mtime))
            chunks.append(e.data)
            pad = -len(e.data) % BLOCK
            if pad:
                chunks.append(b"\0" * pad)
        elif e.kind == DIR:
            chunks.append(_header(name, DIR, 0o755, 0, mtime))
        else:
            chunks.append(_header(name, SYMLINK, 0o777, 0, mtime, e.target))
    chunks.append(b"\0" * (2 * BLOCK))
    size = sum(map(len, chunks))
    chunks.append(b"\0" * (-size % RECORD))
    return b"".join(chunks)


# ---- compressors --------------------------------------------------------------------------

# 1f8b, deflate, no flags, mtime 0, XFL 2 (best compression), OS 3 (Unix): what `gzip -n -9` writes.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
_CHUNK = 1 << 20


def gzip_engine() -> str:
    """Which deflate implementation writes the .tgz (recorded in the release manifest)."""
    try:
        import deflate
        return f"libdeflate (deflate {getattr(deflate, '__version__', '?')})"
    except ImportError:
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


def gzip_bytes(data: bytes, level: int = 9) -> bytes:
    """gzip with no file name and mtime 0, deterministic for a given deflate engine.

    libdeflate (the `deflate` package, a dependency) compresses ~3× faster than zlib at level 9
    with slightly smaller output and releases the GIL; zlib is the fallback."""
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    try:
        import deflate
    except ImportError:
        deflate = None  # type: ignore[assignment]
    if deflate is not None:
        return b"".join((_GZIP_HEADER, deflate.deflate_compress(data, level), trailer))
    comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    view = memoryview(data)
    out = [_GZIP_HEADER]
    for i in range(0, len(data), _CHUNK):
        out.append(comp.compress(view[i:i + _CHUNK]))
    out.append(comp.flush())
    out.append(trailer)
    return b"".join(out)


def xz_block_size(size: int, blocks: int) -> int:
    """The block size for `blocks` independent xz blocks (a function of the input only)."""
    return max(1 << 20, math.ceil(size / max(1, blocks)))


def xz_binary() -> str:
    found = shutil.which("xz")
    if not found:
        raise UsageError("the xz program is not installed (needed for reproducible .tar.xz archives)",
                         hint="install it: apt-get install xz-utils (or brew install xz)")
    return found


def xz_version() -> str:
    out = subprocess.run([xz_binary(), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split()[-1] if out else "unknown"


def xz_bytes(data: bytes, preset: int = 6, blocks: int = 2) -> bytes:
    """xz in block mode: same bytes for any thread count (at least 2 threads: multi-threaded mode)."""
    threads = max(2, os.cpu_count() or 2)
    argv = [xz_binary(), "-z", "-c", "-q", f"-{preset}", f"-T{threads}",
            f"--block-size={xz_block_size(len(data), blocks)}"]
    proc = subprocess.run(argv, input=data, capture_output=True)
    if proc.returncode != 0:
        raise CheckFailed(f"xz failed: {proc.stderr.decode(errors='replace').strip() or proc.returncode}")
    return proc.stdout


def bz2_bytes(data: bytes) -> bytes:
    return bz2.compress(data, 9)


def compress(data: bytes, fmt: str, profile: ArtifactProfile) -> bytes:
    if fmt in ("tgz", "tar.gz"):
        return gzip_bytes(data, profile.gzip_level)
    if fmt == "tar.xz":
        return xz_bytes(data, profile.xz_preset, profile.xz_blocks)
    if fmt == "tar.bz2":
        return bz2_bytes(data)
    if fmt == "tar":
        return data
    raise UsageError(f"unknown archive format {fmt!r}", hint="use tgz, tar.gz, tar.xz or tar.bz2")


def write_file(path: Path, data: bytes) -> BuiltFile:
    """Write atomically, hashing while writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    digest = hashlib.sha256()
    view = memoryview(data)
    try:
        with open(tmp, "wb") as out:
            for i in range(0, len(data), _CHUNK):
                piece = view[i:i + _CHUNK]
                digest.update(piece)
                out.write(piece)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)  # no half-written file left behind
        if error.errno in STORAGE_ERRNOS:
            raise storage_error(error, path) from None
        raise
    return BuiltFile(path.name, path, len(data), digest.hexdigest())


def compress_parallel(data: bytes, outputs: Mapping[Path, str], profile: ArtifactProfile) -> list[BuiltFile]:
    """Compress the same tar into every output at once (one thread each; zlib and xz drop the GIL)."""
    results: dict[Path, BuiltFile] = {}
    errors: list[BaseException] = []

    def work(path: Path, fmt: str) -> None:
        try:
            results[path] = write_file(path, compress(data, fmt, profile))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    # The slowest compressor (xz) starts first.
    order = sorted(outputs.items(), key=lambda item: item[1] != "tar.xz")
    threads = [threading.Thread(target=work, args=item, daemon=True) for item in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[p] for p in outputs]


# ---- the public entry points ---------------------------------------------------------------

def member_digests(entries: Iterable[TreeEntry]) -> list[Member]:
    return [Member(e.path, len(e.data), hashlib.sha1(e.data).hexdigest(), hashlib.sha256(e.data).hexdigest())
            for e in entries if e.kind == FILE]


def news_hook(merge: Callable[[Path], str], profile: ArtifactProfile | str) -> GenerateHook:
    """A generate hook from a "merge this news folder into text" function (e.g. relman.news).

    The hook writes the tag's news folder to a temporary directory, calls `merge(folder)`, and
    returns the profile's news output file."""
    prof = get_profile(profile)
    if not prof.news_dir or not prof.news_output:
        raise UsageError(f"profile {prof.name!r} has no news folder")
    news_dir, output = prof.news_dir, prof.news_output

    def hook(files: Mapping[str, bytes]) -> Mapping[str, bytes | None]:
        with tempfile.TemporaryDirectory(prefix="relman-news-") as tmp:
            prefix = news_dir + "/"
            found = materialize({p: d for p, d in files.items() if p.startswith(prefix)}, Path(tmp))
            if not found:
                return {}
            return {output: merge(Path(tmp) / news_dir).encode("utf-8")}

    return hook


def materialize(files: Mapping[str, bytes], dest: Path) -> int:
    """Write {path: bytes} under `dest`; returns the number of files written."""
    for path, data in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return len(files)


def build_source_archives(repo: Path, version: Version | str, out_dir: Path, *,
                          profile: ArtifactProfile | str, generate: GenerateHook | None = None,
                          ref: str | None = None, security: bool = False,
                          symlinks: str = "error") -> SourceBuild:
    """Build the profile's source archives of `version` from its tag into `out_dir`.

    File names come from the artifact manifest (producer `source`). Returns the files with
    their sizes and SHA-256 (computed while writing), the archive members' digests (for the
    SBOM), what the export rules removed and generated, and how it was built."""
    started = time.perf_counter()
    prof = get_profile(profile)
    v = version if isinstance(version, Version) else Version.parse(version)
    tag = ref or v.git_tag
    specs = expected_files(prof, v, security, producer=SOURCE)
    if not specs:
        raise UsageError(f"profile {prof.name!r} has no source archives for {v}")
    tree = read_tree(Path(repo), tag)
    exported = export_tree(tree.entries, prof, generate=generate, symlinks=symlinks)
    root = prof.archive_root_for(v)
    data = tar_bytes(exported.entries, root, tree.commit_time)
    outputs = {Path(out_dir) / spec.name: spec.compression or "tar" for spec in specs}
    result: list[BuiltFile] = []
    members_box: list[list[Member]] = []
    # Hash the members in this thread while the compressors run in theirs.
    hasher = threading.Thread(target=lambda: members_box.append(member_digests(exported.entries)), daemon=True)
    hasher.start()
    result = compress_parallel(data, outputs, prof)
    hasher.join()
    info = {
        "tool": f"relman {__version__}",
        "method": "git archive of the tag → export rules in memory → one normalised PAX tar → "
                  "libdeflate (gzip) and xz (block mode) in parallel",
        "source_date_epoch": tree.commit_time,
        "tar_size": len(data),
        "gzip": {"level": prof.gzip_level, "engine": gzip_engine()},
        "entries": len(exported.entries) + 1,
    }
    if any(fmt == "tar.xz" for fmt in outputs.values()):
        info["xz"] = {"version": xz_version(), "preset": prof.xz_preset,
                      "block_size": xz_block_size(len(data), prof.xz_blocks)}
    return SourceBuild(version=v.text, tag=tag, commit=tree.commit, source_date_epoch=tree.commit_time,
                       root=root, files=result, members=members_box[0], removed=exported.removed,
                       generated=exported.generated, build_info=info, wall_s=time.perf_counter() - started,
                       partial_sbom=next((e.data for e in exported.entries
                                          if e.kind == FILE and e.path == prof.sbom_partial), None))


@dataclass
class ReproducibilityReport:
    identical: bool
    first: dict[str, str]        # name → sha256
    second: dict[str, str]
    differing: list[str]

    def as_dict(self) -> dict:
        return {"identical": self.identical, "first": self.first, "second": self.second,
                "differing": self.differing}


def compare_builds(first: SourceBuild, second: SourceBuild) -> ReproducibilityReport:
    a = {f.name: f.sha256 for f in first.files}
    b = {f.name: f.sha256 for f in second.files}
    differing = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
    return ReproducibilityReport(not differing, a, b, differing)


def check_reproducible(repo: Path, version: Version | str, out_dir: Path, *, profile: ArtifactProfile | str,
                       generate: GenerateHook | None = None, ref: str | None = None,
                       security: bool = False, scratch: Path | None = None) -> SourceBuild:
    """The reproducibility gate: build into `out_dir`, build again elsewhere, compare digests.

    Raises CheckFailed naming each file whose digests differ; returns the first build."""
    first = build_source_archives(repo, version, out_dir, profile=profile, generate=generate, ref=ref,
                                  security=security)
    with tempfile.TemporaryDirectory(prefix="relman-repro-", dir=scratch) as tmp:
        second = build_source_archives(repo, version, Path(tmp), profile=profile, generate=generate, ref=ref,
                                       security=security)
    report = compare_builds(first, second)
    if not report.identical:
        lines = "; ".join(f"{n}: {report.first.get(n)} vs {report.second.get(n)}" for n in report.differing)
        raise CheckFailed(f"source archives are not reproducible: two builds of {first.tag} differ ({lines})",
                          hint="something in the build depends on the machine or the time: check the news "
                               "hook's output and the xz version")
    return first


def read_archive_members(path: Path) -> dict[str, Member]:
    """The regular files inside a source archive (root folder stripped) with their digests."""
    members: dict[str, Member] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                if not info.isreg():
                    continue
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                name = info.name.split("/", 1)[1] if "/" in info.name else info.name
                members[name] = Member(name, len(data), hashlib.sha1(data).hexdigest(),
                                       hashlib.sha256(data).hexdigest())
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise CheckFailed(f"cannot read archive {path.name}: {exc}", where=str(path)) from None
    except Exception as exc:  # lzma.LZMAError and friends
        raise CheckFailed(f"cannot read archive {path.name}: {exc}", where=str(path)) from None
    return members
