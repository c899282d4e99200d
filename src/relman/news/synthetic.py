"""Synthetic CPython-shaped news trees, for benchmarks, comparison tests and rehearsals.

`make_tree(root, ...)` writes a checkout that blurb accepts as "a CPython repo" (README.rst,
LICENSE, Include/Python.h, Python/ceval.c) with `Misc/NEWS.d` holding released version files
and `next/` fragments. With `edge_cases=True` the text exercises every formatting rule: bpo
and CVE entries, lists, literal blocks after `::`, long unbreakable words, double spaces,
tabs and non-breaking spaces, trailing whitespace, CRLF files, legacy folder names and
"no changes" versions. The same seed always gives the same tree.
"""

from __future__ import annotations

import datetime as _dt
import random
import subprocess
from pathlib import Path

from .fragments import nonce_for
from .sections import SECTIONS, folder_name, legacy_folder_name

_WEIGHTS = (2, 25, 45, 6, 6, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 2, 4)
_WORDS = ("the a fix crash when parser handles deeply nested expressions in asyncio task groups "
          "with cancelled children and long :func:`os.path.join` call that raises :exc:`ValueError` "
          "instead of ``SystemError`` for invalid input while :mod:`tarfile` extraction filters now "
          "validate symbolic links pointing outside destination directory. Patch by Jane Doe. "
          "re-entrant thread-safe :c:func:`PyUnicode_FromFormat` :class:`collections.OrderedDict` "
          "e.g. i.e. etc. 3.14 PEP 765 (see below) `sys.monitoring`").split()
_ODD_WORDS = ("naïve", "café", "Łukasz", "résumé", "→", "“quoted”", "日本語", "a\u00a0b", "x\ty",
              "https://docs.python.org/3/library/" + "very-long-path-segment-" * 4 + "index.html",
              "supercalifragilisticexpialidocious" * 3, "::", "1.", "*", "-", "#.")
VERSIONS = ([f"3.14.0a{i}" for i in range(1, 8)] + [f"3.14.0b{i}" for i in range(1, 5)]
            + [f"3.14.0rc{i}" for i in range(1, 4)] + ["3.14.0"] + [f"3.15.0a{i}" for i in range(1, 8)])


def _sentence(rng: random.Random, low: int, high: int, odd: bool) -> str:
    words = []
    for index in range(rng.randint(low, high)):
        if odd and index and rng.random() < 0.04:
            words.append(rng.choice(_ODD_WORDS))
        else:
            words.append(rng.choice(_WORDS))
    text = " ".join(words).strip(" .") + "."
    return text[0].upper() + text[1:]


def _human_lines(text: str, rng: random.Random, odd: bool) -> str:
    """Break text into short lines the way people type them (the tool rewraps at 76)."""
    limit = rng.choice((50, 60, 72, 79, 100)) if odd else 60
    out, line = [], ""
    for word in text.split(" "):
        gap = "  " if odd and line.endswith(".") and rng.random() < 0.5 else " "
        if line and len(line) + len(word) + 1 > limit:
            if odd and rng.random() < 0.05:
                line += " " * rng.randint(1, 3)  # trailing whitespace
            out.append(line)
            line = word
        else:
            line = f"{line}{gap}{word}" if line else word
    out.append(line)
    if odd and rng.random() < 0.05 and len(out) > 1:
        out[1] = "   " + out[1]  # an indented continuation line
    return "\n".join(out)


def body_text(rng: random.Random, odd: bool = False) -> str:
    """One entry's text: usually a paragraph, sometimes more, with lists and literal blocks."""
    parts = [_human_lines(_sentence(rng, 8, 90, odd), rng, odd)]
    roll = rng.random()
    if roll < 0.1:
        parts.append(_human_lines(_sentence(rng, 5, 40, odd), rng, odd))
    if odd:
        if roll > 0.85:
            parts[-1] = parts[-1].rstrip(".") + " for example::"
            parts.append("   >>> import sys\n   >>> sys.version_info[:2]  # a literal block\n   (3, 14)")
            if rng.random() < 0.5:
                parts.append(_human_lines(_sentence(rng, 5, 30, odd), rng, odd))
        elif roll > 0.75:
            marker = rng.choice(("* ", "- ", "1. ", "#. "))
            items = [marker + _sentence(rng, 3, 20, odd) for _ in range(rng.randint(1, 4))]
            parts.append("\n".join(items))
            if rng.random() < 0.5:
                parts.append(_human_lines(_sentence(rng, 5, 30, odd), rng, odd))
        elif roll > 0.7:
            parts.append(_human_lines(_sentence(rng, 5, 30, odd), rng, odd) + "::")
            parts.append("    code_block(that, is_kept=True)\n        indented_more()")
    separator = "\n\n\n" if odd and rng.random() < 0.05 else "\n\n"
    return separator.join(parts) + "\n"


def _entry(rng: random.Random, when: _dt.datetime, issue: int, odd: bool) -> dict:
    section = rng.choices(SECTIONS, _WEIGHTS)[0]
    body = body_text(rng, odd)
    meta = {"date": when.strftime("%Y-%m-%d-%H-%M-%S"), "nonce": nonce_for(body), "section": section}
    kind = rng.random() if odd else 1.0
    if kind < 0.08:
        meta["bpo"] = str(rng.randint(1000, 46000))
    else:
        meta["gh-issue"] = str(issue)
    if odd and section == "Security" and rng.random() < 0.6:
        meta["cve"] = rng.choice(("CVE-2025-%d", "cve-2024-%d", "2023-%d")) % rng.randint(1000, 99999)
    return {"meta": meta, "body": body}


def make_tree(root: Path, *, released: int = 8, per_version: int = 500, next_count: int = 1000,
              seed: int = 1, edge_cases: bool = False, no_changes: int = 0, legacy_folders: bool = False,
              git: bool = True) -> Path:
    """Write a CPython-shaped checkout at `root` and return its Misc/NEWS.d folder."""
    rng = random.Random(seed)
    root = Path(root)
    (root / "Include").mkdir(parents=True, exist_ok=True)
    (root / "Python").mkdir(exist_ok=True)
    (root / "README.rst").write_text("This is Python version 3.15.0 alpha 2\n=====\n")
    (root / "LICENSE").write_text("A. HISTORY OF THE SOFTWARE\n")
    (root / "Include" / "Python.h").write_text("")
    (root / "Python" / "ceval.c").write_text("")
    news = root / "Misc" / "NEWS.d"
    for section in SECTIONS:
        folder = news / "next" / folder_name(section)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "README.rst").write_text(
            f"Put news entry files for the *{section}* section in this directory.\n")
    when = _dt.datetime(2024, 5, 8, 12, 0, 0)
    issue = 110000
    names = VERSIONS[:released]
    quiet = set(rng.sample(names, min(no_changes, len(names)))) if no_changes else set()
    for name in names:
        if name in quiet:
            body = f"There were no new changes in version {name}.\n"
            day = when.strftime("%Y-%m-%d")
            (news / f"{name}.rst").write_text(
                f".. date: {day}\n.. gh-issue: 0\n.. no changes: True\n.. nonce: {nonce_for(body)}\n"
                f".. release date: {day}\n.. section: Library\n\n{body}")
            continue
        entries = []
        for _ in range(per_version):
            when += _dt.timedelta(minutes=rng.randint(1, 90))
            issue += rng.randint(1, 20)
            entries.append(_entry(rng, when, issue, edge_cases))
        entries.sort(key=lambda e: e["meta"]["date"], reverse=True)
        entries.sort(key=lambda e: SECTIONS.index(e["meta"]["section"]))
        chunks = []
        for index, entry in enumerate(entries):
            meta = dict(entry["meta"])
            if index == 0:
                meta["release date"] = when.strftime("%Y-%m-%d")
            head = "".join(f".. {k}: {meta[k]}\n" for k in sorted(meta))
            chunks.append(head + "\n" + entry["body"])
        (news / f"{name}.rst").write_text("\n..\n\n".join(chunks))
    for _ in range(next_count):
        when += _dt.timedelta(minutes=rng.randint(1, 90))
        issue += rng.randint(1, 20)
        entry = _entry(rng, when, issue, edge_cases)
        meta = entry["meta"]
        section = meta["section"]
        folder_text = folder_name(section)
        if legacy_folders and rng.random() < 0.5:
            folder_text = legacy_folder_name(section)
        key = "gh-issue" if "gh-issue" in meta else "bpo"
        name = f"{meta['date']}.{key}-{meta[key]}.{meta['nonce']}.rst"
        text = (f".. cve: {meta['cve']}\n\n" if "cve" in meta else "") + entry["body"]
        path = news / "next" / folder_text / name
        path.parent.mkdir(parents=True, exist_ok=True)
        newline = "\r\n" if edge_cases and rng.random() < 0.03 else "\n"
        path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    if git:
        run = lambda *args: subprocess.run(["git", *args], cwd=root, check=True,  # noqa: E731
                                           capture_output=True)
        run("init", "-q")
        run("add", "-A")
        run("-c", "user.name=news", "-c", "user.email=news@example.org", "commit", "-q", "-m", "tree")
    return news
