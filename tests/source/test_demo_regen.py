"""`relman demo` at beta 1: both regeneration steps run the sample project's own commands, and the
feature-freeze edits on the new main are CPython's (What's New template, toctree, README PEP, configure)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_demo_beta1_regenerates_and_prepares_the_new_main(tmp_path):
    root = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "demo", "--dir", str(root), "--version",
                           "3.14.0b1", "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    status = {s["id"]: s["status"] for s in summary["steps"]} if isinstance(summary["steps"], list) \
        else summary["steps"]
    assert status["source.regen-pydoc"] == "done" and status["source.regen-configure"] == "done"
    shown = json.loads(subprocess.run([sys.executable, "-m", "relman.cli.main", "show", str(summary["run_id"]),
                                       "--json", "--state", str(Path(summary["state_db"]).parent)],
                                      capture_output=True, text=True, timeout=120).stdout)
    outputs = {s["id"]: s["outputs"] for s in shown["steps"]}
    assert outputs["source.regen-pydoc"]["commands"] == [["python3", "Tools/build/regen_topics.py"]]
    assert outputs["source.regen-configure"]["commands"] == [["sh", "Tools/build/regen-configure.sh"]]
    assert outputs["source.regen-pydoc"]["changed"] == ["Lib/pydoc_data/topics.py"]
    assert outputs["source.regen-configure"]["changed"] == ["configure"]

    upstream = root / "upstream.git"
    tagged = git(upstream, "show", "v3.14.0b1:configure")
    assert "PACKAGE_VERSION='3.14'" in tagged and "check_func sample_feature_99" in tagged
    assert "versionadded:: 3.14" in git(upstream, "show", "v3.14.0b1:Lib/pydoc_data/topics.py")
    # The new main: X.Y+1 in configure.ac and in the regenerated configure, in the same commit.
    assert git(upstream, "log", "-1", "--format=%s", "main") == "Python 3.15.0a0"
    assert "m4_define([PYTHON_VERSION], [3.15])" in git(upstream, "show", "main:configure.ac")
    assert "PACKAGE_VERSION='3.15'" in git(upstream, "show", "main:configure")
    # What's New for 3.15 in CPython's template shape, with the sample's comment block carried over.
    page = git(upstream, "show", "main:Doc/whatsnew/3.15.rst")
    assert "  What's new in Python 3.15" in page and ":Editor: TBD" in page and "* None yet." in page
    assert "Anyone can add a line here; the editor rewrites it anyway." in page
    index = git(upstream, "show", "main:Doc/whatsnew/index.rst")
    assert index.index("3.15.rst") < index.index("3.14.rst")
    readme = git(upstream, "show", "main:README.rst")
    assert "`PEP 790 <https://peps.python.org/pep-0790/>`__ for Python 3.15" in readme
    notes = outputs["post.new-main"]["notes"]
    assert any(n["path"] == "Doc/whatsnew/index.rst" and "above 3.14.rst" in n["message"] for n in notes)
    # The diary has the regenerations; configure needs no follow-up on the new main: it was regenerated.
    diary = Path(summary["report"]).read_text()
    assert "`source.regen-pydoc`" in diary and "`source.regen-configure`" in diary
    assert {"path": "configure", "message": "regenerated: sh Tools/build/regen-configure.sh", "kind": "info"} in notes
    assert not any(n["kind"] == "follow-up" and n["path"] == "configure" for n in notes)
