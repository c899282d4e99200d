"""Every key documented in docs/configuration.md has a test showing its effect.

`EFFECTS` maps each documented key to the test that shows what it changes; the first test
fails when a documented key has none (or a test named here does not exist). Most effects are
shown here, on the function that reads the key; a few are shown by whole runs elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import git
from relman.config import Settings, load_settings

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs" / "configuration.md"


# Tables whose keys are shown by their own areas' tests (publishing: docs/publishing.md and
# tests/publish; announcements: tests/announce), not registered here.
ELSEWHERE = {"publish", "announce"}
# Settings whose value is itself a table of free keys (X.Y → PEP), not a section of settings.
MAPS = {"release_peps"}


def documented_keys() -> list[str]:
    example = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    data = tomllib.loads(example)
    keys = []
    for key, value in data.items():
        if key in ELSEWHERE:
            continue
        if isinstance(value, dict) and key not in MAPS:
            keys += [f"{key}.{inner}" for inner in value]
        else:
            keys.append(key)
    return keys


SIGNING = "tests/release/test_signing_config.py"
EFFECTS = {
    "profile": "tests/test_config_keys.py::test_profile_picks_the_rules",
    "project": "tests/test_config_keys.py::test_project_names_the_release",
    "tools": "tests/test_config_keys.py::test_tools_are_checked",
    "secrets": "tests/engine/test_secrets.py::test_secrets_never_reach_the_journal_or_output",
    "package": "tests/release/test_generic_profile.py::test_flat_layout_package_released_through_run",
    "version_files": "tests/test_config_keys.py::test_version_files_are_bumped",
    "remotes.fork": "tests/test_config_keys.py::test_remotes_and_branches",
    "remotes.upstream": "tests/test_config_keys.py::test_remotes_and_branches",
    "git.sign_tags": "tests/release/test_signed_tags.py::test_gpg_signed_tag",
    "git.release_branch": "tests/test_config_keys.py::test_remotes_and_branches",
    "git.signing_key": "tests/release/test_signed_tags.py::test_gpg_signed_tag",
    "git.temp_branch": "tests/test_config_keys.py::test_remotes_and_branches",
    "git.max_repo_age_hours": "tests/test_config_keys.py::test_max_repo_age_hours",
    "gates.policy": "tests/test_config_keys.py::test_gate_policy_approves_and_is_journaled",
    "gates.policy_name": "tests/test_config_keys.py::test_gate_policy_approves_and_is_journaled",
    "news.dir": "tests/test_config.py::test_news_commands_use_the_configured_news_folder",
    "news.blurb_version": "tests/news/test_cpython_history.py::test_legacy_blurb_version_from_relman_toml",
    "regen.pydoc": "tests/source/test_release_pipeline.py::test_release_from_a_clone_without_tags_runs_both_regenerations",
    "regen.configure": "tests/source/test_release_pipeline.py::test_a_failing_regeneration_stops_before_the_tag_with_the_output_tail",
    "release_peps": "tests/source/test_release_pipeline.py::test_unknown_pep_stops_the_release_commit_before_writing",
    "readiness.buildbot": "tests/test_config_keys.py::test_readiness_keys",
    "readiness.tracker": "tests/test_config_keys.py::test_readiness_keys",
    "readiness.tracker_token_env": "tests/test_config_keys.py::test_readiness_keys",
    "readiness.cycle": "tests/test_config_keys.py::test_readiness_keys",
    "readiness.idle_days": "tests/test_config_keys.py::test_readiness_keys",
    "signing.gpg_key": f"{SIGNING}::test_gpg_with_a_passphrase_reaches_the_build_and_verifies",
    "signing.gnupghome": f"{SIGNING}::test_gpg_with_a_passphrase_reaches_the_build_and_verifies",
    "signing.gpg_passphrase_env":
        "tests/release/test_signing_config.py::test_a_missing_passphrase_variable_stops_the_run_before_the_tag",
    "signing.sigstore_identity": "tests/release/test_signing_config.py::test_sigstore_only_reaches_the_build_job",
    "signing.sigstore_issuer": "tests/release/test_signing_config.py::test_sigstore_only_reaches_the_build_job",
    "signing.sigstore_staging": f"{SIGNING}::test_the_build_options_carry_every_signing_setting",
    "signing.sigstore_trust_root":
        "tests/artifacts/test_verify_trust.py::test_the_identity_can_come_from_the_project_configuration",
    "signing.allow_unsigned": "tests/test_config_keys.py::test_allow_unsigned",
    "build.executor": "tests/test_config_keys.py::test_build_executor_settings",
    "build.buildbot_url": "tests/test_config_keys.py::test_build_executor_settings",
    "build.buildbot_builder": "tests/test_config_keys.py::test_build_executor_settings",
    "build.drop_dir": "tests/test_config_keys.py::test_build_executor_settings",
    "build.build_command": "tests/test_config_keys.py::test_build_and_test_commands_run_in_test_source",
    "build.test_command": "tests/test_config_keys.py::test_build_and_test_commands_run_in_test_source",
    "build.docs": "tests/test_config_keys.py::test_build_docs_and_timeout_reach_the_job",
    "build.timeout_s": "tests/test_config_keys.py::test_build_docs_and_timeout_reach_the_job",
    "build.worker_fork_url": "tests/test_config_keys.py::test_worker_fork_url",
    "build.worker_command":
        "tests/ci/test_remote_workers.py::test_a_worker_that_builds_another_commit_is_caught_before_signing",
    "build.reproducible_on":
        "tests/ci/test_remote_workers.py::test_the_reproducibility_gate_across_two_workers_stops_on_a_difference",
}


def test_every_documented_key_has_an_effect_test():
    missing = [key for key in documented_keys() if key not in EFFECTS]
    assert not missing, f"documented keys without a test of their effect: {missing}"
    for key, node in EFFECTS.items():
        path, name = node.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), f"{key}: {node} does not exist"


def test_the_settings_model_has_no_undocumented_key():
    documented = set(documented_keys())
    fields = set()
    for name, field in Settings.model_fields.items():
        if name in ELSEWHERE:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            fields |= {f"{name}.{inner}" for inner in annotation.model_fields}
        else:
            fields.add(name)
    assert fields <= documented, f"settings nothing documents: {sorted(fields - documented)}"


def test_an_unknown_key_is_refused_with_file_and_line(tmp_path):
    (tmp_path / "relman.toml").write_text('profile = "generic"\n\n[build]\nexecutor = "local"\n'
                                          'build_comand = ["make"]\n')
    git(tmp_path, "init", "-q")
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "plan", "1.0.0", "--repo", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{tmp_path / 'relman.toml'}:5" in proc.stderr and "build.build_comand: unknown setting" in proc.stderr
    assert "did you mean build_command?" in proc.stderr and "Traceback" not in proc.stderr


# ---- effects --------------------------------------------------------------------------------------

def _repo(tmp_path: Path, config: str) -> Path:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1.0.0"\n')
    (repo / "pkg" / "__init__.py").write_text('__version__ = "1.0.0"\n')
    (repo / "VERSION.txt").write_text("release 1.0.0\n")
    (repo / "relman.toml").write_text(config)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "1.0.0")
    return repo


def _release(tmp_path: Path, config: str, version: str = "1.1.0"):
    from relman.release.context import Release
    from relman.vcs import Git
    from relman.version import Version

    repo = _repo(tmp_path, config)
    return Release(Version.parse(version), repo, load_settings(repo), Git(repo), tmp_path / "work")


def _ctx(release, **resources):
    logged: list[str] = []
    approvals: list[tuple] = []
    return SimpleNamespace(resources={"release": release, **resources}, log=logged.append,
                           require_approval=lambda gate, note: approvals.append((gate.id, note)),
                           approvals=approvals, logged=logged)


def test_profile_picks_the_rules(tmp_path):
    generic = _release(tmp_path / "g", 'profile = "generic"\n')
    demo = _release(tmp_path / "d", 'profile = "demo"\n', "3.14.0b1")
    assert not generic.cpython_like and demo.cpython_like
    assert demo.branches_at_feature_freeze and demo.upstream_branches == ["3.14", "main"]


def test_project_names_the_release(tmp_path):
    from relman.release.session import ReleaseSession

    repo = _repo(tmp_path, 'profile = "generic"\nproject = "Sample Co"\n')
    assert ReleaseSession.open("1.1.0", repo, state_dir=tmp_path / "st").key.startswith("Sample Co:")


def test_tools_are_checked(tmp_path):
    from relman.errors import CheckFailed
    from relman.release.preflight import check_tools

    release = _release(tmp_path, 'profile = "generic"\ntools = ["git", "no-such-tool-xyz"]\n')
    with pytest.raises(CheckFailed, match="no-such-tool-xyz"):
        check_tools(_ctx(release))


def test_version_files_are_bumped(tmp_path):
    release = _release(tmp_path, 'profile = "generic"\nversion_files = [\n'
                                 '  { path = "VERSION.txt", pattern = "release (?P<version>\\\\S+)" },\n]\n')
    assert release.plan_bump(release.version).changed() == ["VERSION.txt"]


def test_remotes_and_branches(tmp_path):
    release = _release(tmp_path, 'profile = "generic"\n[remotes]\nfork = "mine"\nupstream = "theirs"\n'
                                 '[git]\nrelease_branch = "stable"\ntemp_branch = "rm/{version}"\n')
    assert (release.remote("fork"), release.remote("upstream")) == ("mine", "theirs")
    assert release.release_branch == "stable" and release.temp_branch == "rm/1.1.0"


def test_max_repo_age_hours(tmp_path):
    from relman.release.preflight import check_repo_age

    young = _release(tmp_path / "a", 'profile = "generic"\n[git]\nmax_repo_age_hours = 24\n')
    assert check_repo_age(ctx := _ctx(young))["last_commit_age_h"] < 1 and not ctx.approvals
    strict = _release(tmp_path / "b", 'profile = "generic"\n[git]\nmax_repo_age_hours = 0\n')
    ctx = _ctx(strict)
    check_repo_age(ctx)
    assert [gate for gate, _ in ctx.approvals] == ["old-repo"]


def test_gate_policy_approves_and_is_journaled(tmp_path):
    """A policy approves the push gates of a real run (no --yes), journaled under its name."""
    sys.path.insert(0, str(ROOT / "tests" / "release"))
    from test_generic_profile import make_package  # noqa: PLC0415

    repo = make_package(tmp_path)
    with open(repo / "relman.toml", "a") as config:
        config.write('[gates]\npolicy = ["*"]\npolicy_name = "the RM team policy"\n')
    git(repo, "commit", "-qam", "policy")
    state = tmp_path / "st"
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "run", "1.4.0", "--repo", str(repo), "--state",
                           str(state), "--no-input", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = json.loads(subprocess.run([sys.executable, "-m", "relman.cli.main", "show",
                                       str(json.loads(proc.stdout)["run_id"]), "--state", str(state), "--json"],
                                      capture_output=True, text=True).stdout)
    assert shown["approvals"] and {a["how"] for a in shown["approvals"]} == {"policy"}
    assert {a["who"] for a in shown["approvals"]} == {"the RM team policy"}


def test_readiness_keys(tmp_path):
    from relman.readiness.sources import ReadinessSources

    (tmp_path / "relman.toml").write_text(
        '[readiness]\nbuildbot = "http://127.0.0.1:8010/"\ntracker = "python/cpython"\n'
        'tracker_token_env = "MY_TOKEN"\ncycle = "cycle.json"\nidle_days = 3\n')
    sources = ReadinessSources.resolve(load_settings(tmp_path).readiness, repo=tmp_path)
    assert sources.buildbot == "http://127.0.0.1:8010/"
    tracker = sources.tracker_client()
    assert tracker.base.endswith("/repos/python/cpython") and tracker.token_env == "MY_TOKEN"
    assert sources.cycle == str(tmp_path / "cycle.json") and sources.idle_days == 3


def test_allow_unsigned():
    from relman.artifacts.signing import check_signers
    from relman.errors import ConfigError

    with pytest.raises(ConfigError, match="refusing to publish unsigned"):
        check_signers({}, allow_unsigned=False)
    assert check_signers({}, allow_unsigned=True) == ["no signer: unsigned (allow_unsigned = true)"]


def test_build_executor_settings(tmp_path):
    from relman.ci.buildbot_executor import BuildbotExecutor
    from relman.ci.local import LocalExecutor
    from relman.release.session import ReleaseSession

    repo = _repo(tmp_path, 'profile = "generic"\n[build]\nexecutor = "buildbot"\n'
                           'buildbot_url = "http://127.0.0.1:8010/"\nbuildbot_builder = "rm-jobs"\n'
                           f'drop_dir = "{tmp_path / "drop"}"\n')
    executor = ReleaseSession.open("1.1.0", repo, state_dir=tmp_path / "st").executor()
    assert isinstance(executor, BuildbotExecutor)
    assert (executor.url, executor.builder, executor.drop_dir) == ("http://127.0.0.1:8010/", "rm-jobs",
                                                                   tmp_path / "drop")
    local = ReleaseSession.open("1.1.0", repo, state_dir=tmp_path / "st", overrides={"build": {"executor": "local"}})
    assert isinstance(local.executor(), LocalExecutor)


def test_build_docs_and_timeout_reach_the_job(tmp_path):
    from relman.release.build import artifacts_job, test_source_job

    release = _release(tmp_path, 'profile = "demo"\n[build]\ndocs = false\ntimeout_s = 42\n', "3.14.0rc1")
    job = artifacts_job(release, {})
    assert "--no-docs" in job.argv and job.timeout == 42
    assert test_source_job(release, {}).timeout == 42
    default = _release(tmp_path / "d", 'profile = "demo"\n', "3.14.0rc1")
    assert "--no-docs" not in artifacts_job(default, {}).argv


def test_build_and_test_commands_run_in_test_source(tmp_path):
    """The configured commands replace the profile's: they run in the unpacked archive (or fail it)."""
    from relman.artifacts.testsource import test_source
    from relman.errors import StepFailed
    from relman.release.build import test_source_job

    release = _release(tmp_path, 'profile = "demo"\n[build]\nbuild_command = ["sh", "-c", "echo built > built.txt"]\n'
                                 'test_command = ["test", "-f", "built.txt"]\n', "3.14.0rc1")
    argv = list(test_source_job(release, {}).argv)
    build_command = json.loads(argv[argv.index("--build-command") + 1])
    test_command = json.loads(argv[argv.index("--test-command") + 1])
    tree = tmp_path / "Python-3.14.0rc1"
    tree.mkdir()
    (tree / "README").write_text("sample\n")
    archive = tmp_path / "Python-3.14.0rc1.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname=tree.name)
    result = test_source(archive, profile="demo", work_dir=tmp_path, build_command=build_command,
                         test_command=test_command)
    assert result.commands == [build_command, test_command]
    assert (result.tree / "built.txt").read_text() == "built\n"
    with pytest.raises(StepFailed, match="`sh -c exit 7` exited 7"):
        test_source(archive, profile="demo", work_dir=tmp_path, build_command=["true"],
                    test_command=["sh", "-c", "exit 7"])


def test_worker_fork_url(tmp_path):
    from relman.errors import UsageError
    from relman.release.remote_build import fork_url_for_workers

    configured = _release(tmp_path / "a", 'profile = "demo"\n[build]\n'
                                         'worker_fork_url = "https://git.example.org/rm/cpython.git"\n', "3.14.0rc1")
    assert fork_url_for_workers(configured) == "https://git.example.org/rm/cpython.git"
    local = _release(tmp_path / "b", 'profile = "demo"\n[remotes]\nfork = "/srv/fork.git"\n', "3.14.0rc1")
    with pytest.raises(UsageError, match="worker_fork_url"):
        fork_url_for_workers(local)
