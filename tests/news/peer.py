"""Running the real blurb 2.3.0 (a test dependency) next to relman on copies of the same tree, or
on one checkout built for the purpose (`blurb merge` only reads it)."""

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


def empty_checkout(root: Path) -> Path:
    """A CPython-shaped checkout blurb accepts, with the section folders and no news; its Misc/NEWS.d."""
    from relman.news.synthetic import make_tree

    return make_tree(root, released=0, per_version=0, next_count=0, git=False)


def blurb_merge(root: Path) -> bytes:
    """The bytes `blurb merge -f OUTPUT` writes for the checkout at `root` (OUTPUT is outside it)."""
    output = root.parent / f"{root.name}.blurb-NEWS"
    run_blurb(root, "merge", "-f", str(output))
    return output.read_bytes()


def relman_takes(content: str, name: str = "3.0.0.rst") -> bool:
    """Whether relman's parser takes `content` (a version file) as entries with text, problem-free.

    Batches of generated cases leave out what it refuses before blurb runs: one bad file stops
    `blurb merge` for the whole tree. (A case relman takes but blurb refuses fails the test.)"""
    from relman.news.fragments import parse_entries

    # As a file reads in text mode (blurb's way): a carriage return is a line break.
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    entries, problems = parse_entries(content, Path(name))
    return not problems and bool(entries) and all(entry.body.strip() for entry in entries)


# ---- one checkout, many texts: a batch of reflow cases for one blurb run -------------------------
# Each case is (text, issue prefix), a text as someone wrote it in a news file. It goes in three ways:
# - alone in a "no changes" version file: merge prints that entry's text as read, without prefix
#   or indent, so this is blurb's first reflow (the one reading a file) on its own;
# - as an entry of a shared version file, with the prefix (none, gh, bpo or CVE): both reflows,
#   the second with the prefix and the `- `/two-space indent;
# - as a next/ fragment: the same through the fragment reader.

NO_CHANGES = ".. gh-issue: 0\n.. no changes: True\n.. release date: 2020-01-01\n.. section: Library\n\n"
# An entry's metadata in a version file for each issue prefix (`.. bpo: 0` gives no prefix at all;
# the gh one is the canonical block blurb and relman write, which relman merges by its fast path).
ENTRY_META = {
    "": ".. bpo: 0\n.. section: Library\n",
    "gh-135000: ": ".. date: 2020-01-01-00-00-00\n.. gh-issue: 135000\n.. nonce: aaaaaa\n.. section: Library\n",
    "bpo-1234: ": ".. bpo: 1234\n.. section: Library\n",
    "CVE-2025-1234, gh-135000: ": ".. cve: CVE-2025-1234\n.. gh-issue: 135000\n.. section: Security\n",
}
# The same as a next/ fragment: (folder, the issue field of the name, metadata block). A fragment
# always has an issue, so no prefix is written as gh.
FRAGMENT = {
    "": ("Library", "gh-issue-135000", ""),
    "gh-135000: ": ("Library", "gh-issue-135000", ""),
    "bpo-1234: ": ("Library", "bpo-1234", ""),
    "CVE-2025-1234, gh-135000: ": ("Security", "gh-issue-135000", ".. cve: CVE-2025-1234\n\n"),
}
FIRST_ENTRY = ".. gh-issue: 135000\n.. release date: 2020-01-02\n.. section: Library\n\nThe first entry.\n"


def write_cases(news: Path, cases: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Write each (text, prefix) the three ways; return the cases written.

    A text relman refuses is left out, as blurb would stop the whole merge at it: in practice a
    text with no words, one starting with `- ` once filled, or one with a `..` line. (Whether
    blurb refuses exactly those is not what these batches check.)"""
    written, entries = [], [FIRST_ENTRY]
    for index, (text, prefix) in enumerate(cases):
        entry = ENTRY_META[prefix] + "\n" + text
        if not (relman_takes(NO_CHANGES + text) and relman_takes(FIRST_ENTRY + "\n..\n\n" + entry)):
            continue
        written.append((text, prefix))
        (news / f"3.0.{index}.rst").write_bytes((NO_CHANGES + text).encode())
        entries.append(entry)
        folder, issue, meta = FRAGMENT[prefix]
        name = f"2020-01-01-{index // 3600:02d}-{index // 60 % 60:02d}-{index % 60:02d}.{issue}.case{index}.rst"
        (news / "next" / folder / name).write_bytes((meta + text).encode())
    (news / "3.1.0.rst").write_bytes("\n..\n\n".join(entries).encode())
    return written


def merge_cases(root: Path, cases: list[tuple[str, str]], merge=None) -> list[tuple[str, str]]:
    """Write the cases into a new checkout at `root`; relman's merge (`merge(news_dir)`, by default
    `merge_news`) must give `blurb merge`'s bytes. Returns the cases written."""
    from relman.news import merge_news

    news = empty_checkout(root)
    written = write_cases(news, cases)
    assert (merge or merge_news)(news).encode() == blurb_merge(root)
    return written
