"""Configuration: relman.toml, [tool.relman], layering, validation, and the documented example."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from relman.config import Settings, load_settings
from relman.errors import ConfigError

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_the_documented_example_is_valid():
    example = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    settings = Settings.model_validate(tomllib.loads(example))
    assert settings.build.executor == "local" and settings.readiness.idle_days == 14


def test_tool_relman_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.relman]\nprofile = "generic"\n'
                                             '[tool.relman.remotes]\nfork = "mine"\n')
    settings = load_settings(tmp_path)
    assert settings.profile == "generic" and settings.remotes.fork == "mine"


def test_layers_repo_file_then_extra_file_then_overrides(tmp_path):
    (tmp_path / "relman.toml").write_text('profile = "demo"\n[remotes]\nfork = "a"\nupstream = "u"\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[remotes]\nfork = "b"\n')
    settings = load_settings(tmp_path, {"remotes": {"upstream": "c"}}, config_file=extra)
    assert (settings.profile, settings.remotes.fork, settings.remotes.upstream) == ("demo", "b", "c")


@pytest.mark.parametrize("text, where", [
    ("profile = [", "relman.toml"),
    ('profile = "nope"', "profile"),
    ('[build]\nexecutor = "cloud"', "build.executor"),
    ('[signing]\nkey = "old-style"', "signing.key"),
])
def test_bad_config_names_what_and_where(tmp_path, text, where):
    (tmp_path / "relman.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert where in str(info.value)


def test_plain_folder_gets_the_generic_profile(tmp_path):
    assert load_settings(tmp_path).profile == "generic"


def test_news_commands_use_the_configured_news_folder(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "relman.toml").write_text('profile = "generic"\n[news]\ndir = "changes"\n')
    (tmp_path / "changes" / "next" / "Library").mkdir(parents=True)
    (tmp_path / "sub").mkdir()
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "news", "check", "--json"], cwd=tmp_path / "sub",
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["news_dir"] == str(tmp_path / "changes")
