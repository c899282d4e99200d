"""relman.toml or [tool.relman] in pyproject.toml → typed settings; profile selection.

Endpoints live here (remotes, Buildbot, tracker, downloads site, upload target…). Secrets
are named by environment variable and never stored. A CPython checkout needs no file at
all: it gets the CPython profile with CPython's conventions.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

CONFIG_FILE = "relman.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Remotes(_Section):
    fork: str = "origin"          # the RM's fork: a remote name or URL
    upstream: str = "upstream"    # the canonical repository: a remote name or URL


class GitSettings(_Section):
    sign_tags: Literal["none", "gpg", "ssh"] = "none"
    signing_key: str | None = None
    temp_branch: str = "branch-{tag}"
    release_branch: str | None = None   # default: CPython's rule (main for alphas and b1, else X.Y)
    max_repo_age_hours: float = 24.0


class Gates(_Section):
    # Gates a policy pre-approves ("*" for all); recorded in the journal as approved by the policy.
    policy: list[str] = Field(default_factory=list)
    policy_name: str = "relman.toml policy"


class NewsSettings(_Section):
    dir: str = "Misc/NEWS.d"


class ReadinessSettings(_Section):
    buildbot: str | None = None
    tracker: str | None = None
    tracker_token_env: str = "GITHUB_TOKEN"
    cycle: str | None = None
    idle_days: float = 14.0


class SigningSettings(_Section):
    method: Literal["none", "gpg", "sigstore"] = "none"
    key: str | None = None
    allow_unsigned: bool = False


class BuildSettings(_Section):
    executor: Literal["local", "buildbot"] = "local"
    test_command: list[str] = Field(default_factory=lambda: ["make", "test"])
    build_command: list[str] = Field(default_factory=lambda: ["make"])
    docs: bool = True
    timeout_s: float = 1800.0


class Settings(_Section):
    profile: Literal["cpython", "generic", "demo"] = "cpython"
    project: str = "CPython"
    remotes: Remotes = Field(default_factory=Remotes)
    git: GitSettings = Field(default_factory=GitSettings)
    gates: Gates = Field(default_factory=Gates)
    news: NewsSettings = Field(default_factory=NewsSettings)
    readiness: ReadinessSettings = Field(default_factory=ReadinessSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    build: BuildSettings = Field(default_factory=BuildSettings)
    secrets: list[str] = Field(default_factory=list)   # environment variable names holding secrets
    artifacts_dir: str | None = None
    package: str | None = None          # generic profile: the import package holding __version__
    version_files: list[dict[str, str]] = Field(default_factory=list)  # generic profile: [{path, key|pattern}]
    tools: list[str] = Field(default_factory=lambda: ["git"])

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def is_cpython_checkout(repo: Path) -> bool:
    readme = repo / "README.rst"
    return ((repo / "Include" / "patchlevel.h").is_file() and (repo / "Python" / "ceval.c").is_file()
            and readme.is_file() and readme.read_text(errors="replace").startswith("This is Python version"))


def load_settings(repo: Path, overrides: dict[str, Any] | None = None, *,
                  config_file: Path | None = None) -> Settings:
    """Read relman.toml (or [tool.relman]) from the repository root — or `config_file` when
    given — apply overrides, validate."""
    data: dict[str, Any] = {}
    source = "defaults"
    path = Path(config_file) if config_file else repo / CONFIG_FILE
    pyproject = repo / "pyproject.toml"
    if config_file and not path.is_file():
        raise ConfigError("no such configuration file", where=str(path))
    if path.is_file():
        data, source = _read_toml(path), str(path)
    elif pyproject.is_file():
        tool = _read_toml(pyproject).get("tool", {}).get("relman")
        if tool is not None:
            data, source = tool, f"{pyproject} [tool.relman]"
    if "profile" not in data and not is_cpython_checkout(repo) and source == "defaults":
        data["profile"] = "generic"
    merged = _deep_merge(data, overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"invalid configuration: {problems}", where=source,
                          hint="see docs/configuration.md for every setting") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", where=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", where=str(path)) from None


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
