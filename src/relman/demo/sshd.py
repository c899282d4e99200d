"""A throwaway OpenSSH sshd on 127.0.0.1 with its own host and user keys: the downloads server
of `relman demo --sftp`, the SFTP tests and the SFTP bench. It runs as the current user,
accepts only its generated user key, and is stopped by the pid it started. Keys and port are
kept in its folder, so a resumed rehearsal talks to the same server."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().strip()


SSHD_PATHS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def find_sshd() -> str | None:
    import shutil

    return next((p for p in SSHD_PATHS if Path(p).exists()), None) or shutil.which("sshd")


@dataclass
class Sshd:
    sshd: str
    folder: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host_key = self.folder / "host_key"
        self.user_key = self.folder / "user_key"
        host_pub = Path(str(self.host_key) + ".pub").read_text().strip() if self.host_key.exists() \
            else keygen(self.host_key)
        user_pub = Path(str(self.user_key) + ".pub").read_text().strip() if self.user_key.exists() \
            else keygen(self.user_key)
        (self.folder / "authorized_keys").write_text(user_pub + "\n")
        os.chmod(self.folder / "authorized_keys", 0o600)
        self.port = self.port or _free_port()
        self.known_hosts = self.folder / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(host_pub.split()[:2])}\n")
        self.user = getpass.getuser()
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(exist_ok=True)   # sshd's privilege-separation folder
        (self.folder / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.folder / 'sshd.pid'}", f"AuthorizedKeysFile {self.folder / 'authorized_keys'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "MaxStartups 100:30:200",
            "MaxSessions 100", "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))

    def start(self) -> Sshd:
        with open(self.folder / "sshd.log", "w") as log:
            self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(self.folder / "sshd_config")],
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + (self.folder / "sshd.log").read_text())
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("sshd did not start")

    def drop_connections(self) -> int:
        """Kill the per-connection sshd processes this sshd started (its children), not itself."""
        assert self.proc is not None
        killed = 0
        for pid in _children(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(entry.name))
    return out
