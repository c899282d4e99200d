"""Signed release tags (GPG and SSH signing), tested with throwaway keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import require_tool
from relman.demo.sample import create_sample_project
from relman.version import Version


def run_release(sample, config, state, env):
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "run", "3.14.0rc1", "--repo", str(sample.repo),
                           "--config", str(config), "--state", str(state), "--yes", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_gpg_signed_tag(tmp_path):
    gpg = require_tool("gpg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", "Test RM <rm@example.org>", "ed25519",
                    "sign", "never"], check=True, env=env, capture_output=True)
    listing = subprocess.run([gpg, "--batch", "--with-colons", "--list-secret-keys"], check=True, env=env,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    sample = create_sample_project(tmp_path / "s", Version.parse("3.14.0rc1"))
    config = tmp_path / "relman.toml"
    config.write_text(f'[git]\nsign_tags = "gpg"\nsigning_key = "{fingerprint}"\n'
                      f'[signing]\ngpg_key = "{fingerprint}"\ngnupghome = "{home}"\n')
    run_release(sample, config, tmp_path / "state", env)
    verified = subprocess.run(["git", "tag", "-v", "v3.14.0rc1"], cwd=sample.upstream, env=env,
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "Good signature" in verified.stderr and fingerprint[-16:] in verified.stderr.replace(" ", "")
    signed = list((tmp_path / "state" / "work").rglob("Python-3.14.0rc1.tgz.asc"))
    assert signed, "the release files are signed with the same key"


def test_ssh_signed_tag(tmp_path):
    keygen = require_tool("ssh-keygen")
    key = tmp_path / "release_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "rm@example.org", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("rm@example.org " + key.with_suffix(".pub").read_text())
    sample = create_sample_project(tmp_path / "s", Version.parse("3.14.0rc1"))
    config = tmp_path / "relman.toml"
    config.write_text(f'[git]\nsign_tags = "ssh"\nsigning_key = "{key}"\n[signing]\nallow_unsigned = true\n')
    run_release(sample, config, tmp_path / "state", dict(os.environ))
    verified = subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "tag", "-v", "v3.14.0rc1"],
                              cwd=sample.upstream, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for rm@example.org' in verified.stderr
    unsigned = subprocess.run(["git", "cat-file", "-p", "v3.14.0rc1"], cwd=sample.upstream, capture_output=True,
                              text=True).stdout
    assert "-----BEGIN SSH SIGNATURE-----" in unsigned
