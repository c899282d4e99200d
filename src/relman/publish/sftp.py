"""Upload to a server over SFTP (asyncssh), the way a release reaches a downloads server.

- Strict host-key checking: the server's key must be in the configured known_hosts file; an
  unknown or changed key is refused (never "accept and continue").
- Parallel transfers on one connection, into a staging folder (`<root>/.relman-staging/<folder>/`,
  a stable name so a dropped connection resumes: files already staged whole are not sent
  again), then one atomic `posix-rename` per file into `<root>/<folder>/`.
- Permissions are changed only where they differ (0644 files, 0755 folders we created).
- Every file in place is checked with `sha256sum` on the server.
- Whole trees (the unpacked docs) go as one tar stream over SSH into a staging folder, then
  replace the old folder with two renames: one round trip instead of one per file.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, TransientError, UsageError
from .files import PublishedFile
from .upload import DIR_MODE, FILE_MODE, STAGING, Progress, UploadReport, check_relative, unpack_flat


def _import_asyncssh() -> Any:
    try:
        import asyncssh
    except ImportError:  # pragma: no cover - a declared dependency
        raise UsageError("the SFTP target needs asyncssh", hint="pip install asyncssh") from None
    return asyncssh


class SftpTarget:
    name = "sftp"

    def __init__(self, host: str, *, port: int = 22, user: str | None = None, known_hosts: str | None = None,
                 key: str | None = None, root: str, docs_root: str | None = None, parallel: int = 16,
                 connect_timeout: float = 30.0):
        if not host:
            raise UsageError("the SFTP target needs a host", hint="set [publish] sftp_host")
        self.host, self.port, self.user = host, port, user
        self.known_hosts = str(Path(known_hosts).expanduser()) if known_hosts else None
        self.key = str(Path(key).expanduser()) if key else None
        self.root = root.rstrip("/") or "/"
        self.docs_root = docs_root
        self.parallel = max(1, parallel)
        self.connect_timeout = connect_timeout
        self.resumed: list[str] = []

    @property
    def where(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"

    # ---- connection ----------------------------------------------------------------------
    async def _connect(self) -> Any:
        asyncssh = _import_asyncssh()
        # AES-GCM first: hardware-accelerated, so bulk transfers are not limited by the cipher.
        options: dict[str, Any] = {"port": self.port, "connect_timeout": self.connect_timeout,
                                   "encryption_algs": ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                                                       "chacha20-poly1305@openssh.com", "aes256-ctr", "aes128-ctr"]}
        if self.user:
            options["username"] = self.user
        if self.known_hosts:
            options["known_hosts"] = self.known_hosts     # only these keys; asyncssh refuses others
        if self.key:
            options["client_keys"] = [self.key]
            options["agent_path"] = None
        try:
            return await asyncssh.connect(self.host, **options)
        except asyncssh.HostKeyNotVerifiable as error:
            raise CheckFailed(f"the host key of {self.where} is not the one in "
                              f"{self.known_hosts or '~/.ssh/known_hosts'}: refusing to connect ({error})",
                              hint="if the server's key really changed, check its fingerprint out of band and "
                                   "update known_hosts; otherwise someone may be in the middle") from None
        except asyncssh.PermissionDenied as error:
            raise UsageError(f"{self.where} refused the login: {error}",
                             hint="check [publish] sftp_user and sftp_key") from None
        except (OSError, asyncssh.Error) as error:
            raise TransientError(f"cannot connect to {self.where}: {error}", hint="run again to retry") from None

    def _run(self, coro: Any) -> Any:
        asyncssh = _import_asyncssh()
        try:
            return asyncio.run(coro)
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, asyncssh.ChannelOpenError,
                ConnectionError, BrokenPipeError) as error:
            raise TransientError(f"the connection to {self.where} dropped: {error}",
                                 hint="run again: files already staged whole are not sent again") from None
        except asyncssh.SFTPError as error:
            raise TransientError(f"SFTP error on {self.where}: {error}", hint="run again to retry") from None

    # ---- files ---------------------------------------------------------------------------
    def _paths(self, folder: str) -> tuple[str, str]:
        folder = check_relative(folder)
        return posixpath.join(self.root, folder), posixpath.join(self.root, STAGING, folder)

    async def _digests(self, conn: Any, folder: str, names: Sequence[str]) -> dict[str, str]:
        if not names:
            return {}
        command = "cd " + shlex.quote(folder) + " && sha256sum -- " + " ".join(shlex.quote(n) for n in names)
        result = await conn.run(command, check=False)
        digests = {}
        for line in str(result.stdout or "").splitlines():
            digest, _, name = line.partition("  ")
            if len(digest) == 64:
                digests[name.lstrip("*")] = digest
        return digests

    async def _missing(self, conn: Any, sftp: Any, dest: str, files: Sequence[PublishedFile]) -> list[PublishedFile]:
        sizes = await _listing(sftp, dest)
        present = [f.name for f in files if sizes.get(f.name, (None, 0))[0] == f.size]
        digests = await self._digests(conn, dest, present)
        return [f for f in files if digests.get(f.name) != f.sha256]

    def missing(self, folder: str, files: Sequence[PublishedFile]) -> list[PublishedFile]:
        dest, _ = self._paths(folder)

        async def go() -> list[PublishedFile]:
            async with await self._connect() as conn, conn.start_sftp_client() as sftp:
                return await self._missing(conn, sftp, dest, files)

        return self._run(go())

    def upload(self, folder: str, files: Sequence[PublishedFile], progress: Progress | None = None) -> UploadReport:
        dest, staging = self._paths(folder)
        return self._run(self._upload(dest, staging, files, progress))

    async def _upload(self, dest: str, staging: str, files: Sequence[PublishedFile],
                      progress: Progress | None) -> UploadReport:
        async with await self._connect() as conn, conn.start_sftp_client() as sftp:
            todo = await self._missing(conn, sftp, dest, files)
            report = UploadReport(already=sorted({f.name for f in files} - {f.name for f in todo}))
            if not todo:
                return report
            for path in (dest, staging):
                created = not await sftp.exists(path)
                await sftp.makedirs(path, exist_ok=True)
                if created:
                    await _chmod_if_needed(sftp, path, DIR_MODE)
            limit = asyncio.Semaphore(self.parallel)
            staged_before = await _listing(sftp, staging)      # one look: what a dropped run left
            done = 0
            self.resumed = []

            async def put(f: PublishedFile) -> None:
                nonlocal done
                staged = staged_before.get(f.name, (None, 0))[0] == f.size
                if staged:
                    self.resumed.append(f.name)
                else:
                    async with limit:
                        await sftp.put(str(f.source), posixpath.join(staging, f.name))
                done += 1
                report.bytes += 0 if staged else f.size
                if progress:
                    progress(done, len(todo), f.name)

            await asyncio.gather(*(put(f) for f in todo))
            staged_digests = await self._digests(conn, staging, [f.name for f in todo])
            wrong = [f.name for f in todo if staged_digests.get(f.name) != f.sha256]
            if wrong:
                for name in wrong:       # a torn file from an earlier attempt: send it again next time
                    await sftp.remove(posixpath.join(staging, name))
                raise TransientError(f"{len(wrong)} staged file(s) on {self.where} do not match their "
                                     f"manifest digests: {', '.join(wrong)}", hint="run again to re-send them")
            modes = await _listing(sftp, staging)            # modes changed only where they differ
            await _gather_limited(limit, [sftp.chmod(posixpath.join(staging, f.name), FILE_MODE) for f in todo
                                          if modes.get(f.name, (0, FILE_MODE))[1] != FILE_MODE])
            await _gather_limited(limit, [sftp.posix_rename(posixpath.join(staging, f.name),
                                                            posixpath.join(dest, f.name)) for f in todo])
            report.uploaded.extend(f.name for f in todo)
            return report

    # ---- trees ---------------------------------------------------------------------------
    def upload_tree(self, local: Path, dest: str) -> int:
        """Send a whole folder as one tar stream and swap it in place of `dest` (absolute)."""
        local = Path(local)
        members = [p.relative_to(local).as_posix() for p in sorted(local.rglob("*"))
                   if not p.is_symlink() and (p.is_file() or p.is_dir())]
        # A local tar streams straight into the SSH channel: packing and sending overlap.
        with tempfile.TemporaryFile() as names:
            names.write(b"".join(m.encode() + b"\0" for m in members))
            names.seek(0)
            packer = subprocess.Popen(["tar", "-c", "-f", "-", "--owner=0", "--group=0", "--numeric-owner",
                                       "--mode=u=rw,go=r,a+X", "--no-recursion", "--null", "-T", "-"],
                                      cwd=local, stdin=names, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                status, remote_error = self._run(self._send_tree(packer.stdout, dest))
            except BaseException:
                packer.kill()
                packer.wait()
                raise
            packed = packer.wait()
        if status != 0 or packed != 0:
            local_error = packer.stderr.read().decode(errors="replace") if packer.stderr else ""
            raise CheckFailed(f"unpacking into {dest} on {self.where} failed (remote exit {status}, local tar "
                              f"exit {packed}): {(remote_error + local_error)[-500:]}")
        return sum(1 for m in members if (local / m).is_file())

    async def _send_tree(self, stream: Any, dest: str) -> tuple[int | None, str]:
        parent = posixpath.dirname(dest.rstrip("/"))
        token = uuid.uuid4().hex[:8]
        staging = posixpath.join(parent, f".{posixpath.basename(dest)}.staging-{token}")
        old = posixpath.join(parent, f".{posixpath.basename(dest)}.old-{token}")
        q = shlex.quote
        script = (f"set -e; mkdir -p {q(staging)} && tar -x --no-same-owner --no-same-permissions -f - -C {q(staging)}"
                  f" && chmod 0755 {q(staging)}"
                  f" && if [ -e {q(dest)} ]; then mv {q(dest)} {q(old)}; fi && mv {q(staging)} {q(dest)}"
                  f" && rm -rf {q(old)}")
        async with await self._connect() as conn:
            result = await conn.run(script, stdin=stream, encoding=None, check=False)
            if result.exit_status != 0:
                await conn.run(f"rm -rf {q(staging)}", check=False)
            return result.exit_status, (result.stderr or b"").decode(errors="replace")

    def unpack_docs(self, archive: Path, dest: str) -> str:
        if not self.docs_root:
            raise UsageError("no docs folder configured for the SFTP target", hint="set [publish] sftp_docs_root")
        final = posixpath.join(self.docs_root, check_relative(dest))
        with tempfile.TemporaryDirectory(prefix="relman-docs-") as tmp:
            unpack_flat(archive, Path(tmp))
            self.upload_tree(Path(tmp), final)
        return f"{self.where}:{final}"

    def close(self) -> None:
        pass


class SftpDrop:
    """A platform hand-off drop folder on an SFTP server (see relman.publish.handoff.Drop)."""

    def __init__(self, target: SftpTarget, folder: str):
        self.target = target
        self.folder = folder

    def listing(self) -> dict[str, int]:
        async def go() -> dict[str, int]:
            asyncssh = _import_asyncssh()
            async with await self.target._connect() as conn, conn.start_sftp_client() as sftp:
                try:
                    entries = await sftp.readdir(self.folder)
                except asyncssh.SFTPNoSuchFile:
                    return {}
            return {e.filename: int(e.attrs.size or 0) for e in entries
                    if not e.filename.startswith(".") and e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR}

        return self.target._run(go())

    def fetch(self, name: str, dest: Path) -> None:
        async def go() -> None:
            async with await self.target._connect() as conn, conn.start_sftp_client() as sftp:
                await sftp.get(posixpath.join(self.folder, name), str(dest) + ".part")

        self.target._run(go())
        Path(str(dest) + ".part").replace(dest)


async def _listing(sftp: Any, folder: str) -> dict[str, tuple[int, int]]:
    """name → (size, mode bits) of the regular files in a remote folder, in one request."""
    asyncssh = _import_asyncssh()
    try:
        entries = await sftp.readdir(folder)
    except asyncssh.SFTPNoSuchFile:
        return {}
    return {e.filename: (int(e.attrs.size or 0), int(e.attrs.permissions or 0) & 0o777) for e in entries
            if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR}


async def _gather_limited(limit: asyncio.Semaphore, calls: list[Any]) -> None:
    async def one(call: Any) -> None:
        async with limit:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def _chmod_if_needed(sftp: Any, path: str, mode: int) -> None:
    asyncssh = _import_asyncssh()
    attrs = await sftp.stat(path)
    if attrs.permissions is not None and (attrs.permissions & 0o777) != mode:
        try:
            await sftp.chmod(path, mode)
        except asyncssh.SFTPPermissionDenied:
            return   # not ours to change (another user's folder): leave it as it is


__all__ = ["SftpDrop", "SftpTarget"]
