"""Signing is checked before anything irreversible, and every signing setting reaches the build.

- preflight.signing proves each configured signer can sign (a trial GPG signature with the
  key and the passphrase from its variable; Sigstore: library, identity, issuer, token), so a
  broken signing setup stops the run before the tag;
- the `[signing]` table reaches the build job (GPG key, keyring, passphrase variable, Sigstore
  identity and issuer), and is an input of build.artifacts: changing it rebuilds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from relman.artifacts.signing import GpgSigner, SigstoreSigner, signers_from_config, signing_arguments
from relman.ci.executor import JobResult
from relman.demo.sample import create_sample_project
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release.session import ReleaseSession
from relman.version import Version

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def protected_key(tmp_path_factory):
    """A keyring whose signing key needs a passphrase: (home, fingerprint)."""
    require_tool("gpg")
    home = tmp_path_factory.mktemp("gnupg-pass")
    home.chmod(0o700)
    base = ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback"]
    subprocess.run(base + ["--passphrase", PASSPHRASE, "--quick-gen-key", "RM <rm@example.org>", "ed25519", "sign",
                           "never"], check=True, capture_output=True)
    listing = subprocess.run(base + ["--with-colons", "--list-secret-keys"], check=True, capture_output=True,
                             text=True).stdout
    yield home, next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def _forget_passphrase(home: Path) -> None:
    """gpg-agent caches a passphrase once used: restart it so each check needs the variable again."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def session(tmp_path, signing: dict, executor=None) -> ReleaseSession:
    sample = create_sample_project(tmp_path / "s", Version.parse("3.14.0rc1"))
    opened = ReleaseSession.open("3.14.0rc1", sample.repo, state_dir=tmp_path / "state",
                                 overrides={"signing": signing})
    if executor is not None:
        opened.resources["executor"] = executor
    return opened


def run(opened: ReleaseSession):
    return opened.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())


def test_gpg_with_a_passphrase_reaches_the_build_and_verifies(tmp_path, protected_key, monkeypatch):
    home, fingerprint = protected_key
    _forget_passphrase(home)
    monkeypatch.setenv("RM_GPG_PASSPHRASE", PASSPHRASE)
    opened = session(tmp_path, {"gpg_key": fingerprint, "gnupghome": str(home),
                                "gpg_passphrase_env": "RM_GPG_PASSPHRASE"})
    opened.settings.secrets.append("RM_GPG_PASSPHRASE")
    result = run(opened)
    for step in ("preflight.signing", "build.artifacts", "build.verify"):
        assert result.steps[step].status == "done", {k: v.error for k, v in result.steps.items() if v.error}
    artifacts = opened.work_dir / "artifacts"
    assert (artifacts / "3.14.0rc1.manifest.json.asc").is_file()
    assert (artifacts / "Python-3.14.0rc1.tgz.asc").is_file()
    # the passphrase travelled by variable name only: never in the journal or a job log
    assert PASSPHRASE.encode() not in opened.db_path.read_bytes()
    for log in (opened.work_dir / "logs").glob("*.log"):
        assert PASSPHRASE not in log.read_text(errors="replace")


def test_a_missing_passphrase_variable_stops_the_run_before_the_tag(tmp_path, protected_key, monkeypatch):
    home, fingerprint = protected_key
    monkeypatch.delenv("RM_GPG_PASSPHRASE", raising=False)
    result = run(session(tmp_path, {"gpg_key": fingerprint, "gnupghome": str(home),
                                    "gpg_passphrase_env": "RM_GPG_PASSPHRASE"}))
    assert result.failed == ["preflight.signing"]
    assert "RM_GPG_PASSPHRASE is not set" in result.steps["preflight.signing"].error
    assert result.steps["source.tag"].status == "pending"


def test_a_wrong_passphrase_stops_the_run_before_the_tag(tmp_path, protected_key, monkeypatch):
    home, fingerprint = protected_key
    _forget_passphrase(home)
    monkeypatch.setenv("RM_GPG_PASSPHRASE", "wrong")
    result = run(session(tmp_path, {"gpg_key": fingerprint, "gnupghome": str(home),
                                    "gpg_passphrase_env": "RM_GPG_PASSPHRASE"}))
    assert result.failed == ["preflight.signing"]
    assert "gpg could not sign" in result.steps["preflight.signing"].error
    assert result.steps["source.tag"].status == "pending"


def test_a_key_missing_from_the_keyring_stops_the_run_before_the_tag(tmp_path, protected_key):
    home, _ = protected_key
    result = run(session(tmp_path, {"gpg_key": "nobody@example.org", "gnupghome": str(home)}))
    assert result.failed == ["preflight.signing"]
    assert "no secret GPG key 'nobody@example.org'" in result.steps["preflight.signing"].error


class RecordingExecutor:
    """Records each build job and fails it (real Sigstore signing would need the internet)."""

    name = "recording"

    def __init__(self) -> None:
        self.jobs: list = []

    def run(self, jobs, *, on_event=None):
        self.jobs.extend(jobs)
        return {job.id: JobResult(job.id, False, None, None, [], 0.0, error="recorded, not run", where="recording")
                for job in jobs}


SIGSTORE_ONLY = {"sigstore_identity": "rm@example.org", "sigstore_issuer": "https://github.com/login/oauth"}


def test_sigstore_only_without_a_token_stops_the_run_before_the_tag(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGSTORE_IDENTITY_TOKEN", raising=False)
    result = run(session(tmp_path, SIGSTORE_ONLY))
    assert result.failed == ["preflight.signing"]
    assert "SIGSTORE_IDENTITY_TOKEN is not set" in result.steps["preflight.signing"].error
    assert result.steps["source.tag"].status == "pending"


def test_sigstore_only_reaches_the_build_job(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGSTORE_IDENTITY_TOKEN", "a-token")
    executor = RecordingExecutor()
    result = run(session(tmp_path, SIGSTORE_ONLY, executor))
    assert result.steps["preflight.signing"].status == "done"
    (job,) = [j for j in executor.jobs if j.id == "build-release-files"]
    argv = list(job.argv)
    assert argv[argv.index("--sigstore-identity") + 1] == "rm@example.org"
    assert argv[argv.index("--sigstore-issuer") + 1] == "https://github.com/login/oauth"
    assert "a-token" not in " ".join(argv), "the token stays in the environment"
    assert "recorded, not run" in result.steps["build.artifacts"].error


def test_the_build_options_carry_every_signing_setting():
    """What the build job receives parses back into the same signers (one wire format)."""
    from relman.cli.artifacts_cmd import build_command

    config = {"gpg_key": "ABCD", "gnupghome": "/keys", "gpg_passphrase_env": "RM_PASS",
              "sigstore_identity": "rm@example.org", "sigstore_issuer": "https://accounts.google.com",
              "sigstore_staging": True}
    argv = ["3.14.0rc1", "-o", "out", *signing_arguments(config)]
    params = build_command.make_context("build", argv).params
    signers = signers_from_config({"gpg_key": params["gpg_key"], "gnupghome": params["gnupghome"],
                                   "gpg_passphrase_env": params["gpg_passphrase_env"],
                                   "sigstore_identity": params["sigstore_identity"],
                                   "sigstore_issuer": params["sigstore_issuer"],
                                   "sigstore_staging": params["sigstore_staging"]})
    assert signers == [GpgSigner("ABCD", Path("/keys"), "RM_PASS"),
                       SigstoreSigner("rm@example.org", "https://accounts.google.com", staging=True)]


def test_signing_settings_are_inputs_of_the_build(tmp_path):
    first = session(tmp_path / "a", {"gpg_key": "ABCD", "allow_unsigned": False})
    second = session(tmp_path / "b", {"gpg_key": "EF01", "allow_unsigned": False})
    assert first.plan().inputs_of("build.artifacts")["signing"]["gpg_key"] == "ABCD"
    assert first.plan().inputs_of("build.artifacts") != second.plan().inputs_of("build.artifacts")
