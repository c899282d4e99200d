"""Upload targets: where a release's files go (the downloads server's ftp tree, the docs tree).

A target receives files into a staging folder first, then moves each into place with an
atomic rename, so users never download a half-written file; files of other releases in the
same folder (3.14.0a1 … 3.14.0 share `3.14.0/`) are left alone. Permissions are set only
where they differ from what is wanted (another user's files are not touched).
`LocalTree` is a folder on this machine; `relman.publish.sftp.SftpTarget` is a server.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..artifacts.checksums import sha256_file
from ..errors import CheckFailed, UsageError
from .files import PublishedFile

FILE_MODE, DIR_MODE = 0o644, 0o755
STAGING = ".relman-staging"

Progress = Callable[[int, int, str], None]


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    bytes: int = 0

    def as_dict(self) -> dict:
        return {"uploaded": self.uploaded, "already": self.already, "bytes": self.bytes}


class UploadTarget(Protocol):
    name: str

    def missing(self, folder: str, files: Sequence[PublishedFile]) -> list[PublishedFile]:
        """Files not in place (absent or of another size/digest where the target can tell)."""

    def upload(self, folder: str, files: Sequence[PublishedFile], progress: Progress | None = None) -> UploadReport:
        """Put `files` into `folder` (relative to the target's root), staged then moved."""

    def unpack_docs(self, archive: Path, dest: str) -> str:
        """Unpack a docs archive (zip or tar) into `dest` (relative to the docs root), replacing it whole."""

    def close(self) -> None: ...


def check_relative(folder: str) -> str:
    path = PurePosixPath(folder)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UsageError(f"refusing to upload into {folder!r}: not a plain folder below the target's root")
    return str(path)


def _chmod_if_needed(path: Path, mode: int) -> None:
    st = path.stat()
    if (st.st_mode & 0o777) != mode and st.st_uid == os.getuid():
        os.chmod(path, mode)


class LocalTree:
    """A folder tree on this machine (the demo's downloads server, or a mounted one)."""

    name = "local"

    def __init__(self, root: Path, docs_root: Path | None = None, parallel: int = 8):
        self.root = Path(root)
        self.docs_root = Path(docs_root) if docs_root else None
        self.parallel = parallel

    def missing(self, folder: str, files: Sequence[PublishedFile]) -> list[PublishedFile]:
        base = self.root / check_relative(folder)
        out = []
        for f in files:
            path = base / f.name
            if not path.is_file() or path.stat().st_size != f.size or sha256_file(path)[0] != f.sha256:
                out.append(f)
        return out

    def upload(self, folder: str, files: Sequence[PublishedFile], progress: Progress | None = None) -> UploadReport:
        dest = self.root / check_relative(folder)
        todo = self.missing(folder, files)
        report = UploadReport(already=sorted({f.name for f in files} - {f.name for f in todo}))
        if not todo:
            return report
        staging = self.root / STAGING / f"{folder}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        dest.mkdir(parents=True, exist_ok=True)
        _chmod_if_needed(dest, DIR_MODE)
        done = 0

        def copy(f: PublishedFile) -> PublishedFile:
            target = staging / f.name
            shutil.copyfile(f.source, target)
            digest, size = sha256_file(target)
            if (digest, size) != (f.sha256, f.size):
                raise CheckFailed(f"{f.name}: the copy does not match its manifest entry "
                                  f"({size} bytes, sha256 {digest[:12]}… instead of {f.size}, {f.sha256[:12]}…)",
                                  where=str(f.source), hint="the local file changed after the build: rebuild")
            _chmod_if_needed(target, FILE_MODE)
            return f

        try:
            with ThreadPoolExecutor(self.parallel) as pool:
                for f in pool.map(copy, todo):
                    done += 1
                    report.bytes += f.size
                    if progress:
                        progress(done, len(todo), f.name)
            for f in todo:                     # every file staged: now move them in, one rename each
                os.replace(staging / f.name, dest / f.name)
                report.uploaded.append(f.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return report

    def unpack_docs(self, archive: Path, dest: str) -> str:
        if self.docs_root is None:
            raise UsageError("no docs folder configured for the local target", hint="set [publish] docs_dir")
        final = self.docs_root / check_relative(dest)
        staging = self.docs_root / STAGING / f"docs-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            unpack_flat(archive, staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            old = final.with_name(final.name + f".old-{uuid.uuid4().hex[:8]}")
            if final.exists():
                os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(final)

    def close(self) -> None:
        pass


def unpack_flat(archive: Path, dest: Path) -> int:
    """Unpack a docs archive into `dest`, dropping its single top folder; refuses members that
    would land outside `dest` (absolute paths, `..`, links)."""
    with ExitStack() as stack:
        names: list[tuple[str, Callable[[], bytes]]]
        if archive.name.endswith(".zip"):
            zf = stack.enter_context(zipfile.ZipFile(archive))
            names = [(i.filename, partial(zf.read, i)) for i in zf.infolist() if not i.is_dir()]
        else:
            tf = stack.enter_context(tarfile.open(archive))
            members = [m for m in tf.getmembers() if not m.isdir()]
            bad = [m.name for m in members if not m.isfile()]
            if bad:
                raise CheckFailed(f"{archive.name} holds links or special files: {', '.join(bad[:3])}")
            names = [(m.name, partial(_member_bytes, tf, m)) for m in members]
        paths = [PurePosixPath(n) for n, _ in names]
        tops = {p.parts[0] for p in paths if p.parts}
        strip = 1 if len(tops) == 1 and all(len(p.parts) > 1 for p in paths) else 0
        for (name, read), path in zip(names, paths):
            parts = path.parts[strip:]
            if not parts or path.is_absolute() or ".." in parts:
                raise CheckFailed(f"{archive.name}: unsafe member {name!r}")
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())
        return len(names)


def _member_bytes(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tf.extractfile(member)
    if handle is None:
        raise CheckFailed(f"cannot read {member.name}")
    return handle.read()


__all__ = ["STAGING", "LocalTree", "UploadReport", "UploadTarget", "check_relative", "unpack_flat"]
