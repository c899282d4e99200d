"""Running the real blurb 2.3.0 (a test dependency) next to relman on copies of the same tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import require_tool


def blurb_path() -> str:
    return require_tool("blurb", str(Path(sys.executable).with_name("blurb")))


def run_blurb(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([blurb_path(), *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, f"blurb {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def twin(tree: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of a generated checkout: one for blurb, one for relman."""
    theirs, ours = tmp_path / "blurb", tmp_path / "relman"
    shutil.copytree(tree, theirs, symlinks=True)
    shutil.copytree(tree, ours, symlinks=True)
    return theirs, ours


def release_date_of(version_file: Path) -> str:
    return re.search(r"^\.\. release date: (\S+)$", version_file.read_text(), re.M)[1]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def init_git(root: Path) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
