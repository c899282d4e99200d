"""One rule per decision: profile detection, bump planning and readiness inputs are library
functions that the CLI and the release steps both call."""

from __future__ import annotations

from pathlib import Path

from relman.config import load_settings
from relman.profile import detect_profile, is_cpython_checkout
from relman.readiness.sources import ReadinessSources


def cpython_tree(root: Path) -> Path:
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "patchlevel.h").write_text("#define PY_VERSION \"3.15.0a1\"\n")
    (root / "Lib").mkdir()
    (root / "Misc" / "NEWS.d").mkdir(parents=True)
    return root


def test_a_fresh_cpython_checkout_is_detected_without_generated_files(tmp_path):
    repo = cpython_tree(tmp_path / "cpython")
    assert not (repo / "configure").exists()
    assert is_cpython_checkout(repo)
    assert load_settings(repo).profile == "cpython"


def test_missing_markers_mean_generic_and_configuration_wins(tmp_path):
    repo = cpython_tree(tmp_path / "cpython")
    (repo / "Misc" / "NEWS.d").rmdir()
    assert not is_cpython_checkout(repo)
    assert detect_profile(repo) == "generic"
    assert detect_profile(repo, "demo") == "demo"


def test_cli_and_steps_share_the_detection(tmp_path):
    from relman.cli.artifacts_cmd import pick_profile

    repo = cpython_tree(tmp_path / "cpython")
    assert pick_profile("auto", repo).name == "cpython"
    assert load_settings(repo).profile == "cpython"


def test_readiness_sources_honour_the_token_variable_and_resolve_the_cycle_in_the_repo(tmp_path):
    (tmp_path / "relman.toml").write_text('[readiness]\ntracker = "python/cpython"\ntracker_token_env = "RM_TOKEN"\n'
                                          'cycle = "data/release-cycle.json"\nidle_days = 0\n')
    settings = load_settings(tmp_path).readiness
    sources = ReadinessSources.resolve(settings, repo=tmp_path, state_dir=tmp_path / "state")
    assert sources.tracker_client() is not None and sources.tracker_client().token_env == "RM_TOKEN"
    assert sources.cycle == str(tmp_path / "data" / "release-cycle.json")
    assert sources.idle_days == 0
    # a schedule file named on the command line is where it was typed, not in the repository
    assert ReadinessSources.resolve(settings, repo=tmp_path, cycle="mine.json").cycle == "mine.json"


def test_the_run_resolves_the_schedule_file_like_status(tmp_path):
    """The release's schedule data (PEP numbers) and its readiness verdict read the same file."""
    from relman.release.session import ReleaseSession

    (tmp_path / "relman.toml").write_text('profile = "generic"\n[readiness]\ncycle = "cycle.json"\n')
    import subprocess
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    session = ReleaseSession.open("1.0.0", tmp_path, state_dir=tmp_path / "st")
    settings = session.settings.readiness
    assert ReadinessSources.resolve(settings, repo=session.repo).cycle == str(session.repo / "cycle.json")
