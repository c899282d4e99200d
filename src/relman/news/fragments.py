"""The news entry format: parsing (with every problem collected), validating and formatting.

A file holds one or more entries separated by a line that is just `..`. An entry is an optional
metadata block (`.. name: value` lines, `#` comments and blank lines) followed by the text::

    .. gh-issue: 135000
    .. section: Library

    Fix :func:`os.path.join` for ...

Fragments under `next/<Section>/` carry their date, issue, nonce and section in the file name
(`2025-06-01-12-00-00.gh-issue-135000.AbCdEf.rst`) instead of in a metadata block; version
files (`3.14.0b2.rst`) carry it inline, sorted by key, and the first entry there also has the
`release date`.

Where blurb stops at the first error with a traceback, this module keeps going and returns
every problem, each with the file and the line it is on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

from .sections import SECTION_INDEX, SECTIONS, SECURITY
from .wrap import has_odd_space, is_plain, wrap_body

LOWEST_GH_ISSUE = 32426
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
# The first read: enough for any fragment. (os.read allocates the whole size up front, and
# a buffer this small comes from the heap rather than a fresh mmap: 1 MiB cost 20 µs a file.)
_READ_SIZE = 1 << 16
_ISSUE_KEYS = {"gh-issue": "GitHub", "bpo": "bpo"}
_FORBIDDEN_STARTS = ("- ", "Issue #", "bpo-", "gh-", "gh-issue-")
_FORBIDDEN_START = re.compile("|".join(re.escape(s) for s in _FORBIDDEN_STARTS), re.I)
_CVE = re.compile(r"(?:CVE-)?(\d{4})-(\d{4,})", re.I | re.ASCII)
# A line that is only `..` (trailing whitespace allowed) ends an entry.
_SEPARATOR = re.compile(r"^\.\.[^\S\n]*$", re.M)
_SEPARATOR_LINE = re.compile(r"^\.\.[^\S\n]*(?:\n|\Z)", re.M)
_LIST_START = ("* ", "- ", "1. ", "#. ")
# A metadata line needing no clean-up: lower-case key, one space after the colon, a value.
_TIDY_META = re.compile(r"^\.\. ([a-z0-9](?:[a-z0-9 -]*[a-z0-9])?): ([^ \n][^\n]*)$", re.M)
_FILENAME_DATE = re.compile(r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in the news tree: where it is and what to do about it."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "line": self.line, "message": self.message}


@dataclass(slots=True)
class Entry:
    """One news entry: its metadata (keys lower-case) and its reflowed text (ends with a newline)."""

    metadata: dict[str, str]
    body: str
    line: int = 1
    plain: bool = False  # no whitespace but " " and "\n" in `body` (lets merge skip checks)

    @property
    def section(self) -> str:
        return self.metadata.get("section", "")


@dataclass(slots=True)
class FragmentName:
    """What a `next/` file name says: date, issue (gh-issue or bpo), nonce."""

    metadata: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def normalize_cve(value: str) -> str | None:
    """`cve-2025-1234` or `2025-1234` → `CVE-2025-1234`; None when it is not a CVE id."""
    match = _CVE.fullmatch(value.strip())
    return f"CVE-{match[1]}-{match[2]}" if match else None


def nonce_for(body: str) -> str:
    """blurb's nonce: the first 6 characters of the URL-safe base64 of the text's MD5."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.md5(body.encode("utf-8")).digest())[:6].decode("ascii")


def timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d-%H-%M-%S")


def parse_fragment_name(name: str) -> FragmentName:
    """Read date, nonce and issue from `DATE.gh-issue-N.NONCE.rst` (or `.bpo-N.`).

    The rules are blurb's: split on `.`, at least four fields, the last is `rst`, the first is
    the date, the one before last the nonce, and each one between names an issue.
    """
    result = FragmentName()
    fields = name.split(".")
    if len(fields) == 4 and fields[3] == "rst" and fields[1].startswith("gh-issue-") and name.isascii() \
            and len(name.split()) == 1:
        result.metadata.update(date=fields[0], nonce=fields[2], **{"gh-issue": fields[1][9:]})
        return result
    fields = [part.strip() for part in fields]
    if len(fields) < 4 or fields[-1] != "rst":
        result.problems.append(
            f"cannot read the file name {name!r}: expected DATE.gh-issue-NUMBER.NONCE.rst "
            "(for example 2025-06-01-12-30-00.gh-issue-135000.AbCdEf.rst)")
        return result
    result.metadata.update(date=fields[0], nonce=fields[-2])
    for part in fields[1:-2]:
        for key in ("gh-issue", "bpo"):
            _, found, value = part.partition(f"{key}-")
            if found:
                result.metadata[key] = value.strip()
                break
        else:
            result.problems.append(
                f"cannot read {part!r} in the file name {name!r}: expected gh-issue-NUMBER or bpo-NUMBER")
    return result


def parse_entries(text: str, path: Path | str = "<text>", *,
                  preset: dict[str, str] | None = None,
                  preset_where: str = "the file name",
                  lazy: bool = False) -> tuple[list[Entry], list[Problem]]:
    """Parse every entry in `text`; return the entries and every problem found (none when valid).

    `preset` is metadata that applies to the first entry before its own block (a fragment's file
    name); a block that repeats one of those keys is a problem, as in blurb. `lazy=True` keeps
    single-spaced paragraphs unfilled in `Entry.body`, for text that merge reflows anyway (see
    `wrap_body`); release and check use the exact text.
    """
    plain = is_plain(text)
    if plain:
        fast = _parse_plain(text, preset, lazy)
        if fast is not None:
            return fast, []
    # Something is unusual or wrong: the careful parser, which tracks lines and names problems.
    entries: list[Entry] = []
    problems: list[Problem] = []
    start = 0
    line_no = 1
    first = True
    for match in _SEPARATOR.finditer(text):
        chunk = text[start:match.start()]
        _parse_entry(chunk, path, line_no, preset if first else None, preset_where, plain, lazy,
                     entries, problems)
        first = False
        line_no += chunk.count("\n") + 1
        start = match.end() + 1
    _parse_entry(text[start:], path, line_no, preset if first else None, preset_where, plain, lazy,
                 entries, problems)
    return entries, problems


def _parse_plain(text: str, preset: dict[str, str] | None, lazy: bool) -> list[Entry] | None:
    """The common case, quickly: plain text, tidy metadata blocks, valid entries.

    Returns None at the first thing out of the ordinary; the careful parser then runs and finds
    the same entries (or names the problems), so this is only ever a shortcut.
    """
    if text.startswith("..\n") or text.endswith("\n..") or text == "..":
        return None
    entries = []
    metadata: dict[str, str] = dict(preset) if preset else {}
    # In plain text a separator line is exactly "..", so a plain split finds them all (and an
    # oddity such as two separators in a row leaves a chunk the checks below reject).
    for chunk in text.split("\n..\n"):
        chunk = chunk.lstrip("\n")
        if chunk.startswith(".."):
            head, blank, body = chunk.partition("\n\n")
            if not blank:
                return None
            # Tidy `.. key: value` lines (as blurb and relman write them) in one regex call.
            pairs = _TIDY_META.findall(head)
            lines = head.count("\n") + 1
            if len(pairs) != lines:
                return None
            if metadata:
                for name, value in pairs:
                    if name in metadata:
                        return None
                    metadata[name] = value
            else:
                metadata = dict(pairs)
                if len(metadata) != lines:
                    return None
            body = body.lstrip("\n")
            if body.startswith(("..", "#")):
                return None
        elif chunk.startswith("#") or not chunk:
            return None
        else:
            body = chunk
        body = body.rstrip()
        if not body:        # metadata and nothing after it: the careful parser names the problem
            return None
        keep_lines = not lazy or "no changes" in metadata
        if keep_lines or "\n\n" in body or body.startswith(_LIST_START):
            body = wrap_body(body, plain=True, lazy=not keep_lines)
        else:  # one paragraph, to be filled by merge: just its words
            words = body.strip().replace("\n", " ")
            if "  " in words or words.startswith(_LIST_START):
                body = wrap_body(body, plain=True, lazy=True)
            else:
                body = words + "\n"
        if _FORBIDDEN_START.match(body) or not _valid_quick(metadata):
            return None
        entries.append(Entry(metadata, body, 1, True))
        metadata = {}
    return entries


def _valid_quick(metadata: dict[str, str]) -> bool:
    """`_validate` without the messages (normalises the CVE, like `_validate`)."""
    section = metadata.get("section")
    gh_issue = metadata.get("gh-issue")
    bpo = metadata.get("bpo")
    if section is None or (gh_issue is None and bpo is None):
        return False
    no_changes = metadata.get("no changes")
    try:
        if gh_issue is not None and int(gh_issue) < LOWEST_GH_ISSUE and not no_changes:
            return False
        if bpo is not None:
            int(bpo)
    except ValueError:
        return False
    if not no_changes and section not in SECTION_INDEX:
        return False
    cve = metadata.get("cve")
    if cve is not None:
        cve = normalize_cve(cve)
        if cve is None or section != SECURITY:
            return False
        metadata["cve"] = cve
    return True


def entry_count(text: str) -> int:
    """How many entries `text` holds (separator lines + 1)."""
    if _SEPARATOR.search(text) is None:
        return 1
    return sum(1 for _ in _SEPARATOR.finditer(text)) + 1


def _parse_entry(chunk: str, path: Path | str, line_no: int, preset: dict[str, str] | None,
                 preset_where: str, plain: bool, lazy: bool, entries: list[Entry],
                 problems: list[Problem]) -> None:
    metadata: dict[str, str] = dict(preset) if preset else {}
    where: dict[str, int] = {}
    count = len(problems)
    lines = chunk.split("\n")
    body_at = -1
    index = -1
    for raw in lines:
        index += 1
        line = raw.rstrip()
        if line.startswith(".."):
            name, colon, value = line[2:].strip().partition(":")
            if not colon:
                problems.append(Problem(Path(path), line_no + index,
                                        f"metadata line {line!r} has no ':' (expected '.. name: value')"))
                continue
            name = name.lower().strip()
            if name in metadata:
                origin = preset_where if name not in where else f"line {where[name]}"
                problems.append(Problem(Path(path), line_no + index,
                                        f"{name!r} is set twice (already by {origin})"))
                continue
            metadata[name] = value.strip()
            where[name] = line_no + index
        elif line.startswith("#"):
            comment = line[1:].strip()
            name, _, value = comment[2:].partition(":")
            if comment.startswith("..") and name.lower().strip() == "cve" and value.strip():
                problems.append(Problem(Path(path), line_no + index,
                                        f"a CVE is given but the line is still commented out: {line!r}; "
                                        "remove the leading '#' to use it"))
        elif line:
            body_at = index
            break
    if body_at < 0:
        problems.append(Problem(Path(path), line_no, "the entry has no text (an entry needs a paragraph "
                                                     "after its metadata)"))
        return
    raw_body = "\n".join(lines[body_at:]).rstrip()
    body_plain = plain or not has_odd_space(raw_body)
    if lazy and "no changes" not in metadata:
        body = wrap_body(raw_body, plain=plain, lazy=True)
        if _FORBIDDEN_START.match(body):
            body = wrap_body(raw_body, plain=plain)
    else:
        body = wrap_body(raw_body, plain=plain)
    entry = Entry(metadata, body, line_no, body_plain)
    _validate(entry, path, line_no + body_at, where, preset_where, problems)
    if len(problems) == count:
        entries.append(entry)


def _validate(entry: Entry, path: Path | str, body_line: int, where: dict[str, int], preset_where: str,
              problems: list[Problem]) -> None:
    metadata = entry.metadata
    if _FORBIDDEN_START.match(entry.body):
        for start in _FORBIDDEN_STARTS:
            if re.match(re.escape(start), entry.body, re.I):
                problems.append(Problem(Path(path), body_line,
                                        f"the text must not start with {start!r}: the issue prefix "
                                        "is added when news is merged"))
                break
    no_changes = metadata.get("no changes")

    def at(key: str) -> int:
        return where.get(key, entry.line)

    def origin(key: str) -> str:
        return "" if key in where else f" (from {preset_where})"

    for key, value in metadata.items():
        if key in _ISSUE_KEYS:
            try:
                number = int(value)
            except ValueError:
                problems.append(Problem(Path(path), at(key),
                                        f"invalid {_ISSUE_KEYS[key]} number {value!r}{origin(key)}"))
                continue
            if key == "gh-issue" and not no_changes and number < LOWEST_GH_ISSUE:
                problems.append(Problem(Path(path), at(key),
                                        f"invalid gh-issue number {value!r}{origin(key)}: GitHub issues "
                                        f"start at {LOWEST_GH_ISSUE}; use 'bpo' for an older bugs.python.org issue"))
        elif key == "section":
            if not no_changes and value not in SECTION_INDEX:
                problems.append(Problem(Path(path), at(key),
                                        f"invalid section {value!r}{origin(key)}; use one of: "
                                        + ", ".join(SECTIONS)))
        elif key == "cve":
            cve = normalize_cve(value)
            if cve is None:
                problems.append(Problem(Path(path), at(key),
                                        f"invalid CVE identifier {value!r} (expected CVE-YYYY-NNNN)"))
            else:
                metadata[key] = cve
    if "cve" in metadata and metadata.get("section") != SECURITY:
        problems.append(Problem(Path(path), at("cve"), f"'cve' may only be used in the {SECURITY!r} section"))
    if "gh-issue" not in metadata and "bpo" not in metadata:
        problems.append(Problem(Path(path), entry.line, "no issue: add '.. gh-issue: NUMBER' (or '.. bpo: NUMBER')"))
    if "section" not in metadata:
        problems.append(Problem(Path(path), entry.line, "no section: add '.. section: NAME'"))


def format_entries(entries: list[Entry]) -> str:
    """The text of a version file (or a fragment): metadata sorted by key, then the reflowed text."""
    parts = []
    for index, entry in enumerate(entries):
        if index:
            parts.append("\n..\n\n")
        if entry.metadata:
            parts.extend(f".. {key}: {value}\n" for key, value in sorted(entry.metadata.items()))
            parts.append("\n")
        parts.append(wrap_body(entry.body))
    return "".join(parts)


def read_text(path: Path | str, *, dir_fd: int | None = None) -> str:
    """Read a news file the way blurb does: UTF-8, universal newlines.

    `dir_fd` (an open folder) makes `path` a name relative to it, which spares the kernel a
    walk down the whole path for each of thousands of fragments in the same folder.
    """
    fd = os.open(path, _READ_FLAGS, dir_fd=dir_fd)
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) == _READ_SIZE:  # a big file (a version file): read the rest in large steps
            chunks = [data]
            while True:
                chunk = os.read(fd, 1 << 22)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    text = data.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
