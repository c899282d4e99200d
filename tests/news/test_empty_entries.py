"""An entry with metadata and no text is refused, as blurb refuses it ("Blurb 'body' text must
not be empty!") — in a released version file (by the fast path's canonical form and the general
one) and in a next/ fragment — by `relman news merge` (nothing written) and `relman news check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .peer import blurb_path, empty_checkout

GOOD = ".. gh-issue: 135001\n.. release date: 2020-01-02\n.. section: Library\n\nA good entry.\n"
CASES = {
    # file (relative to Misc/NEWS.d) → its content
    "canonical first entry": ("3.9.0a1.rst", ".. gh-issue: 135000\n.. release date: 2020-01-01\n"
                                             ".. section: Library\n\n"),
    "bpo first entry": ("3.9.0a1.rst", ".. bpo: 0\n.. date: 2020\n.. nonce: x\n.. release date: 2020-01-01\n"
                                       ".. section: Library\n\n"),
    "second entry": ("3.9.0a1.rst", GOOD + "\n..\n\n.. bpo: 1234\n.. section: Library\n\n"),
    "fragment with only metadata": ("next/Security/2025-01-01-00-00-00.gh-issue-135000.abcdef.rst",
                                    ".. cve: CVE-2025-1234\n"),
}


def relman(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("relman")), *args], cwd=root, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_entry_without_text_is_refused_like_blurb_refuses_it(case: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "checkout"
    news = empty_checkout(root)
    name, content = CASES[case]
    (news / name).parent.mkdir(parents=True, exist_ok=True)
    (news / name).write_text(content)
    if not name.startswith("next/"):          # something in next/ too, as in a real tree
        (news / "next" / "Library" / "2025-01-01-00-00-01.gh-issue-136000.abcdeg.rst").write_text("Fine.\n")

    theirs = subprocess.run([blurb_path(), "merge", "-f", str(tmp_path / "blurb-NEWS")], cwd=root,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert theirs.returncode != 0 and "must not be empty" in theirs.stdout + theirs.stderr

    monkeypatch.setenv("RELMAN_CACHE_DIR", str(tmp_path / "cache"))
    for attempt in ("cold", "warm"):            # the second merge would use the cache if the first had stored
        ours = relman(root, "news", "merge", str(tmp_path / "relman-NEWS"))
        assert ours.returncode == 2, (attempt, ours.stdout, ours.stderr)
        assert f"{name}:" in ours.stderr and "the entry has no text" in ours.stderr
        assert "Traceback" not in ours.stderr and not (tmp_path / "relman-NEWS").exists()
    checked = relman(root, "news", "check")
    assert checked.returncode != 0 and "the entry has no text" in checked.stdout + checked.stderr
