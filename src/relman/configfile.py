"""Finding and reading relman's configuration file, without validating it.

`config.load_settings` validates what this reads; commands that must start fast (`relman news`)
read a single key through it without loading the settings models.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILE = "relman.toml"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", where=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", where=str(path)) from None


def read_repo_config(repo: Path) -> tuple[dict[str, Any], str | None]:
    """relman.toml at `repo`, else [tool.relman] in its pyproject.toml: (data, where it came from)."""
    path = repo / CONFIG_FILE
    if path.is_file():
        return read_toml(path), str(path)
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        tools = read_toml(pyproject).get("tool", {})
        tool = tools.get("relman") if isinstance(tools, dict) else None
        if tool is not None:
            if not isinstance(tool, dict):
                raise ConfigError("[tool.relman] must be a table of settings, not a "
                                  f"{type(tool).__name__}", where=str(pyproject),
                                  hint="see docs/configuration.md for every setting")
            return tool, f"{pyproject} [tool.relman]"
    return {}, None


def configured_news_dir(start: Path) -> Path | None:
    """The news folder a configuration names, searching `start` and the folders above it."""
    here = start.resolve()
    for folder in (here, *here.parents):
        data, where = read_repo_config(folder)
        if where is not None:
            news = data.get("news", {}).get("dir")
            return folder / news if news else None
    return None
