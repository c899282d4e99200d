"""Loading a news tree, and the two outputs: a version file (`release`) and `Misc/NEWS` (`merge`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .fragments import (Entry, Problem, entry_count, format_entries, parse_entries, parse_fragment_name,
                        read_text)
from .tree import NEXT, FragmentFile, list_fragments, printable_version, version_names
from .sections import SECTIONS
from .wrap import WIDTH, _line_pattern, wrap_body

TITLE = "+++++++++++\nPython News\n+++++++++++"
FOOTER = "**(For information about older versions, consult the HISTORY file.)**"
UNRELEASED_DATE = "XXXX-XX-XX"

fill_line = _line_pattern(WIDTH - 2).findall


def load_fragment(fragment: FragmentFile, problems: list[Problem], *, lazy: bool = False,
                  text: str | None = None) -> Entry | None:
    """Parse one `next/` file; add what is wrong with it to `problems`.

    `text` is the file's text when the caller has already read it (as `read_text` does)."""
    path = fragment.path
    name = parse_fragment_name(os.path.basename(path))
    if name.problems:
        problems.extend(Problem(Path(path), 1, message) for message in name.problems)
        return None
    if text is None:
        try:
            text = read_text(path)
        except UnicodeDecodeError as error:
            problems.append(Problem(Path(path), 1, f"not valid UTF-8 ({error.reason} at byte {error.start})"))
            return None
    preset = {"date": name.metadata["date"], "nonce": name.metadata["nonce"], "section": fragment.section}
    for key in ("gh-issue", "bpo"):
        if key in name.metadata:
            preset[key] = name.metadata[key]
    entries, found = parse_entries(text, path, preset=preset, lazy=lazy)
    problems.extend(found)
    if (found or len(entries) != 1) and entry_count(text) > 1:
        problems.append(Problem(Path(path), 1, "a fragment holds exactly one entry: remove the '..' separator "
                                         "lines and write one fragment per entry"))
        return None
    return entries[0] if entries and not found else None


def load_next(news_dir: Path, problems: list[Problem], *, lazy: bool = False,
              sections: tuple[str, ...] = SECTIONS) -> tuple[list[Entry], list[FragmentFile]]:
    fragments = list_fragments(news_dir, sections)
    entries = []
    for fragment in fragments:
        entry = load_fragment(fragment, problems, lazy=lazy)
        if entry is not None:
            entries.append(entry)
    return entries, fragments


def load_version(path: Path, problems: list[Problem], *, lazy: bool = False) -> list[Entry]:
    """Parse a released version's file; it must have a release date in its first entry."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as error:
        problems.append(Problem(path, 1, f"not valid UTF-8 ({error.reason} at byte {error.start})"))
        return []
    entries, found = parse_entries(text, path, preset_where="an earlier line", lazy=lazy)
    problems.extend(found)
    if entries and not found and "release date" not in entries[0].metadata:
        problems.append(Problem(path, entries[0].line,
                                "the first entry of a version file needs '.. release date: YYYY-MM-DD'"))
    return entries


def load_tree(news_dir: Path, *, lazy: bool = False,
              sections: tuple[str, ...] = SECTIONS) -> tuple[list[tuple[str, list[Entry]]], list[Problem]]:
    """Every version's entries, newest first (`next` first), and every problem found on the way.

    `lazy=True` is for merge: entry text is left for `render_news` to fill (see `wrap_body`)."""
    problems: list[Problem] = []
    versions: list[tuple[str, list[Entry]]] = []
    for name in version_names(news_dir):
        if name == NEXT:
            entries, _ = load_next(news_dir, problems, lazy=lazy, sections=sections)
        else:
            entries = load_version(news_dir / f"{name}.rst", problems, lazy=lazy)
        versions.append((name, entries))
    return versions, problems


def issue_prefix(metadata: dict[str, str]) -> str:
    """`gh-N: `, `bpo-N: `, `CVE-…, gh-N: ` or nothing (issue 0), as merged into Misc/NEWS."""
    gh_issue = metadata.get("gh-issue")
    if gh_issue:
        prefix = f"gh-{gh_issue}" if gh_issue != "0" and int(gh_issue) else ""
    else:
        bpo = metadata.get("bpo")
        prefix = f"bpo-{bpo}" if bpo and bpo != "0" and int(bpo) else ""
    cve = metadata.get("cve")
    if cve:
        prefix = f"{cve}, {prefix}" if prefix else cve
    return f"{prefix}: " if prefix else ""


def entry_text(metadata: dict[str, str], body: str, plain: bool) -> str:
    """One entry as merged into Misc/NEWS: `- ` + issue prefix + text, filled, ending in a newline."""
    return prefixed_entry_text(issue_prefix(metadata), body, plain)


def prefixed_entry_text(prefix: str, body: str, plain: bool) -> str:
    """`entry_text` with the issue prefix already worked out."""
    if prefix and plain and body.find("\n") == len(body) - 1 and "  " not in body:
        # One single-spaced paragraph (most entries): fill it in one regex call.
        return "- " + "\n  ".join(fill_line(prefix + body[:-1])) + "\n"
    return wrap_body(prefix + body, "- ", "  ", plain=plain)


def version_heading(name: str, release_date: str, next_label: str | None = None) -> list[str]:
    """The lines that open a version in Misc/NEWS (a blank line first)."""
    if name == NEXT:
        label = printable_version(next_label) if next_label else NEXT
    else:
        label = printable_version(name)
    header = f"What's New in Python {label}?"
    return ["", header, "=" * len(header), "", f"*Release date: {release_date}*", ""]


def version_block(name: str, entries: list[Entry], next_label: str | None = None) -> str:
    """One version's part of Misc/NEWS ("" for a version without entries); see `join_blocks`."""
    if not entries:
        return ""
    release_date = UNRELEASED_DATE if name == NEXT else entries[0].metadata["release date"]
    out = version_heading(name, release_date, next_label)
    if "no changes" in entries[0].metadata:
        out += [entries[0].body, ""]
        return "\n".join(out)
    last_section = None
    for entry in entries:
        metadata = entry.metadata
        section = metadata["section"]
        if section != last_section:
            last_section = section
            out += [section, "-" * len(section), ""]
        out.append(entry_text(metadata, entry.body, entry.plain))
    return "\n".join(out)


def join_blocks(blocks: Iterable[str]) -> str:
    """Misc/NEWS from the version blocks, newest first: title, blocks, footer (no final newline)."""
    # (One join, no "\n" + block copies: the blocks of a big tree are megabytes.)
    return "\n".join([TITLE, *(block for block in blocks if block), "", FOOTER])


def render_news(versions: Iterable[tuple[str, list[Entry]]], *, next_label: str | None = None) -> str:
    """The merged `Misc/NEWS` text, byte for byte what blurb 2.3.0 writes (no final newline).

    `next_label` replaces `next` in the heading of unreleased news (e.g. `3.15.0a2`).
    """
    return join_blocks(version_block(name, entries, next_label) for name, entries in versions)


def render_release(entries: list[Entry]) -> str:
    """The text of a new version file."""
    return format_entries(entries)
