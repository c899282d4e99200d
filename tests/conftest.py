"""Shared test helpers.

A test that needs a system tool (sshd, chromium, gpg, buildbot) skips locally when the tool is
missing, but with RELMAN_REQUIRE_ALL=1 (set by .ci/run) a missing tool is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("RELMAN_REQUIRE_ALL") == "1"

# Property tests judge results, never speed: no per-example deadline (a loaded CI machine would
# turn a slow example into a failure), and no health check that fails on slowness.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("relman", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("relman")


def require_tool(name: str, path: str | None = None) -> str:
    """Return the tool's path, or skip (fail under RELMAN_REQUIRE_ALL=1) when it is missing."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed"
    if REQUIRE_ALL:
        pytest.fail(f"{message}, and RELMAN_REQUIRE_ALL=1 requires it (see .ci/run)")
    pytest.skip(message)


def require_module(name: str):
    """Import an optional module, or skip (fail under RELMAN_REQUIRE_ALL=1) when it is missing.

    The one way tests import optional Python packages: no bare `pytest.importorskip`."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as error:
        message = f"the Python module {name} is not importable ({error})"
        if REQUIRE_ALL:
            pytest.fail(f"{message}, and RELMAN_REQUIRE_ALL=1 requires it", pytrace=False)
        pytest.skip(message, allow_module_level=True)


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests get a predictable git identity and no user/global git config surprises."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test RM")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "rm@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test RM")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "rm@example.org")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or fill the user's cache (~/.cache/relman); they share one of their own."""
    monkeypatch.setenv("RELMAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "relman-cache"))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()
