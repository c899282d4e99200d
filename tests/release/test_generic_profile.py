"""A plain Python package released through the same workflow (the generic profile)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_package(root: Path, *, flat: bool = False) -> Path:
    repo = root / "pkg"
    package = repo / "pkg" if flat else repo / "src" / "pkg"
    package.mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "pkg"\n# the released version\nversion = "1.3.0"\n')
    (package / "__init__.py").write_text('"""A package."""\n\n__version__ = "1.3.0"\n')
    (repo / "relman.toml").write_text('profile = "generic"\nproject = "pkg"\npackage = "pkg"\n'
                                      '[git]\nrelease_branch = "main"\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pkg 1.3.0")
    git(repo, "tag", "-a", "v1.3.0", "-m", "1.3.0")
    for name in ("upstream", "fork"):
        git(root, "clone", "-q", "--bare", str(repo), str(root / f"{name}.git"))
        git(repo, "remote", "add", name if name == "upstream" else "origin", str(root / f"{name}.git"))
    git(repo, "fetch", "-q", "--all")
    return repo


def relman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relman.cli.main", *args], capture_output=True, text=True, timeout=300)


def test_generic_package_release(tmp_path):
    repo = make_package(tmp_path)
    proc = relman("run", "1.4.0", "--repo", str(repo), "--state", str(tmp_path / "st"), "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = {s["id"]: s["status"] for s in json.loads(proc.stdout)["steps"]}
    assert steps["preflight.magic-number"] == "done" and steps["post.new-branch"] == "skipped"
    upstream = tmp_path / "upstream.git"
    assert 'version = "1.4.0"' in git(upstream, "show", "v1.4.0:pyproject.toml")
    assert "# the released version" in git(upstream, "show", "v1.4.0:pyproject.toml"), "formatting is kept"
    assert '__version__ = "1.4.0"' in git(upstream, "show", "v1.4.0:src/pkg/__init__.py")
    assert git(upstream, "log", "-1", "--format=%s", "main") == "Post 1.4.0"
    assert 'version = "1.4.0+dev"' in git(upstream, "show", "main:pyproject.toml")


def test_generic_versions_only_go_forward(tmp_path):
    repo = make_package(tmp_path)
    proc = relman("run", "1.2.9", "--repo", str(repo), "--state", str(tmp_path / "st"), "--yes", "--json")
    assert proc.returncode == 1
    assert "preflight.transition" in json.loads(proc.stdout)["failed"]


def test_flat_layout_package_released_through_run(tmp_path):
    """`relman bump` and the release-commit step plan the same edits (one planner): a flat
    layout (pkg/__init__.py, no src/) is bumped by both."""
    repo = make_package(tmp_path, flat=True)
    preview = relman("bump", "1.4.0", "--repo", str(repo), "--dry-run", "--json")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["changed"] == ["pkg/__init__.py", "pyproject.toml"]
    proc = relman("run", "1.4.0", "--repo", str(repo), "--state", str(tmp_path / "st"), "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    upstream = tmp_path / "upstream.git"
    assert '__version__ = "1.4.0"' in git(upstream, "show", "v1.4.0:pkg/__init__.py")
    assert 'version = "1.4.0"' in git(upstream, "show", "v1.4.0:pyproject.toml")
    assert '__version__ = "1.4.0+dev"' in git(upstream, "show", "main:pkg/__init__.py")
