"""`merge` without detours: each version's part of Misc/NEWS straight from its file(s).

`render.load_tree` + `render.render_news` is the reference way to merge: parse every file into
`Entry` objects, then render them. This module gives the same bytes with less work per entry,
because nearly every file in a real tree is tidy (written by blurb or relman):

* a version file is split on its separators and each entry is checked and rendered in the same
  step, with no `Entry` in between;
* a fragment is read relative to an open folder (`dir_fd`) with one small `os.read`, and its
  issue comes from the file name, so a one-paragraph fragment costs a handful of string checks
  and one fill;
* on a tree of thousands of entries the work is shared between this process and one forked
  worker (`jobs`): whole released versions, and next/ cut into runs of fragments (once the
  released versions come from the cache, next/ is all there is to render). The parent puts
  the pieces back together in blurb's order, so the output never depends on the split.

At the first thing out of the ordinary (a metadata oddity, tabs, a `no changes` release, an
unreadable file, …) the version or fragment at hand goes through the reference path instead, so
the output, and every problem reported, is exactly what `load_tree` + `render_news` give. Tests
check that, and check both against blurb itself.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .cache import VersionCache, cache_dir
from .fragments import (_FORBIDDEN_START, _LIST_START, _TIDY_META, LOWEST_GH_ISSUE, Problem, _valid_quick,
                        read_text)
from .render import (UNRELEASED_DATE, entry_text, fill_line, issue_prefix, load_fragment, load_next,
                     load_version, prefixed_entry_text, version_block, version_heading)
from .sections import SECTION_INDEX, SECTIONS, folders
from .tree import NEXT, README, FragmentFile, version_names
from .wrap import is_plain, wrap_body

# A tree smaller than this (in entries, estimated) is merged in one process: forking and
# shipping the text back would cost more than it saves.
PARALLEL_MIN_ENTRIES = 3000
# Cost model for sharing out the work: one fragment (open + read + close + parse) costs
# about as much as this many bytes of a version file.
_FRAGMENT_COST_BYTES = 900
# Reading a cached block back (read, SHA-256 check, decode) costs about what rendering this
# many times fewer bytes of its version file does.
_CACHED_COST_DIVISOR = 30
# next/ is cut into this many runs of fragments for sharing out: enough for an even split.
_NEXT_PARTS = 16
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_SMALL = 1 << 16
_DIR_FD = os.open in os.supports_dir_fd
_LOWEST_TEXT = str(LOWEST_GH_ISSUE)
_SPACE_OR_LIST = (" ", *_LIST_START)


# ---- one version file --------------------------------------------------------------------

# A metadata block exactly as blurb and relman write it for an ordinary entry (keys sorted, a
# gh-issue, no bpo, cve or "no changes"), then the blank line and the start of the text.
_CANONICAL = re.compile(r"\.\. date: [^ \n][^\n]*\n\.\. gh-issue: ([1-9][0-9]{4,})\n"
                        r"\.\. nonce: [^ \n][^\n]*\n(?:\.\. release date: ([^ \n][^\n]*)\n)?"
                        r"\.\. section: ([^ \n][^\n]*)\n\n(?![\n.#])")


def _simple_entry(prefix: str, body: str) -> str | None:
    """`prefixed_entry_text(prefix, <body read lazily>)` for the usual text, in one step; else None.

    The usual text: paragraphs (split on one blank line) with single spaces, no line starting
    with a space, none starting like a list item and none but the last ending in `::`. For
    such text both of blurb's reflows come down to filling each paragraph's words once, which
    is what this does; anything else returns None for the general rules (`wrap_body`).
    `prefix` is not empty and `body` has no leading newline and no trailing whitespace.
    """
    if "\n\n" not in body:  # one paragraph (most entries)
        words = body.replace("\n", " ")
        if "  " in words or words.startswith(_SPACE_OR_LIST) or _FORBIDDEN_START.match(words):
            return None
        return "- " + "\n  ".join(fill_line(prefix + words)) + "\n"
    if "\n\n\n" in body:
        return None
    paragraphs = body.split("\n\n")
    words = paragraphs[0].replace("\n", " ")
    if "  " in words or words.startswith(_SPACE_OR_LIST) or _FORBIDDEN_START.match(words) \
            or words.endswith("::"):
        return None
    out = ["- " + "\n  ".join(fill_line(prefix + words))]
    last = len(paragraphs) - 1
    for index in range(1, last + 1):
        words = paragraphs[index].replace("\n", " ")
        if "  " in words or words.startswith(_SPACE_OR_LIST) or (index < last and words.endswith("::")):
            return None
        out.append("  " + "\n  ".join(fill_line(words)))
    return "\n\n".join(out) + "\n"


def _version_fast(name: str, text: str) -> list[str] | None:
    """The Misc/NEWS lines for a tidy version file; None when anything is unusual."""
    if not is_plain(text) or text.startswith("..\n") or text.endswith("\n..") or text == "..":
        return None
    out: list[str] = []
    add = out.append
    last_section = None
    canonical = _CANONICAL.match
    for chunk in text.split("\n..\n"):
        if chunk.startswith("\n"):
            chunk = chunk.lstrip("\n")
        match = canonical(chunk)
        if match is not None:
            issue, release_date, section = match.groups()
            # (Five digits or more, no leading zero: comparing the text is comparing the numbers.)
            if (len(issue) == 5 and issue < _LOWEST_TEXT) or (section != last_section
                                                              and section not in SECTION_INDEX):
                match = None
        piece = None
        if match is not None:
            # The usual entry: everything `_valid_quick` and `issue_prefix` would work out is known.
            prefix = f"gh-{issue}: "
            body = chunk[match.end():].rstrip()
            if not body:        # metadata and no text: blurb refuses it; the careful path says why
                return None
            piece = _simple_entry(prefix, body)
        else:
            if not chunk.startswith(".."):
                return None
            head, blank, body = chunk.partition("\n\n")
            if not blank:
                return None
            pairs = _TIDY_META.findall(head)
            metadata = dict(pairs)
            if len(metadata) != head.count("\n") + 1 or len(pairs) != len(metadata):
                return None
            if "no changes" in metadata:
                return None
            body = body.lstrip("\n")
            if body.startswith(("..", "#")) or not _valid_quick(metadata):
                return None
            section = metadata["section"]
            prefix = issue_prefix(metadata)
            release_date = metadata.get("release date")
            body = body.rstrip()
            if not body:
                return None
        if piece is None:
            # Anything but one single-spaced paragraph: the general rules.
            words = None
            if "\n\n" in body or body.startswith(_LIST_START):
                body = wrap_body(body, plain=True, lazy=True)
            else:
                words = body.strip().replace("\n", " ")
                if "  " in words or words.startswith(_LIST_START):
                    body = wrap_body(body, plain=True, lazy=True)
                    words = None
                else:
                    body = words
            if _FORBIDDEN_START.match(body):
                return None
            if words is not None and prefix:
                piece = "- " + "\n  ".join(fill_line(prefix + words)) + "\n"
            else:
                piece = prefixed_entry_text(prefix, body if words is None else words + "\n", True)
        if not out:
            if release_date is None:
                return None
            out += version_heading(name, release_date)
        if section != last_section:
            last_section = section
            out += [section, "-" * len(section), ""]
        add(piece)
    return out


def _version_block(news_dir: str, name: str, problems: list[Problem]) -> str:
    path = os.path.join(news_dir, f"{name}.rst")
    try:
        lines = _version_fast(name, read_text(path))
    except UnicodeDecodeError:
        lines = None
    if lines is None:
        count = len(problems)
        entries = load_version(Path(path), problems, lazy=True)
        # (With a problem there is no merge: the caller raises, so there is nothing to render.)
        return version_block(name, entries) if len(problems) == count else ""
    return "\n".join(lines)


# ---- next/ ---------------------------------------------------------------------------------

def _first(item: tuple[str, str]) -> str:
    return item[0]


def next_items(news_dir: str, sections: tuple[str, ...] = SECTIONS) -> list[tuple[str, str, str]]:
    """Every fragment as (section, file name, folder), in merge order: by section, newest name first."""
    next_dir = os.path.join(news_dir, NEXT)
    found = []
    for section in sections:
        names: list[tuple[str, str]] = []
        for folder in folders(section):
            base = os.path.join(next_dir, folder)
            try:
                with os.scandir(base) as it:
                    names += [(e.name, base) for e in it if e.name.endswith(".rst") and e.name != README
                              and not e.name.startswith(".") and e.is_file()]
            except (FileNotFoundError, NotADirectoryError):
                pass
        names.sort(key=_first, reverse=True)  # by name only: equal names keep the modern folder first
        found += [(section, name, base) for name, base in names]
    return found


def _fragment_fast(name: str, text: str) -> str | None:
    """The Misc/NEWS text of a tidy one-entry fragment (issue in the name, no metadata block)."""
    fields = name.split(".")
    if len(fields) != 4 or not fields[1].startswith("gh-issue-") or not name.isascii() \
            or len(name.split()) != 1:
        return None
    issue = fields[1][9:]
    try:
        if int(issue) < LOWEST_GH_ISSUE:
            return None
    except ValueError:
        return None
    if "\n.." in text or not is_plain(text):
        return None
    body = text.lstrip("\n")
    if not body or body.startswith(("..", "#")):
        return None
    body = body.rstrip()
    prefix = f"gh-{issue}: "
    piece = _simple_entry(prefix, body)
    if piece is not None:
        return piece
    body = wrap_body(body, plain=True, lazy=True)
    if _FORBIDDEN_START.match(body):
        return None
    return prefixed_entry_text(prefix, body, True)


class _Unusual(Exception):
    pass


def _next_block(news_dir: str, next_label: str | None, problems: list[Problem],
                sections: tuple[str, ...] = SECTIONS, items: list[tuple[str, str, str]] | None = None) -> str:
    found: list[Problem] = []
    if items is None:
        items = next_items(news_dir, sections)
    pieces, first = _fragment_pieces(items, found)
    try:
        block = _next_text(items, pieces, first, next_label)
    except _Unusual:
        found = []
        block = _next_reference(news_dir, next_label, found, sections)
    problems += found
    return block


def _next_reference(news_dir: str, next_label: str | None, problems: list[Problem],
                    sections: tuple[str, ...]) -> str:
    return version_block(NEXT, load_next(Path(news_dir), problems, lazy=True, sections=sections)[0], next_label)


def _fragment_pieces(items: Sequence[tuple[str, str, str]],
                     problems: list[Problem]) -> tuple[list[str], bool | None]:
    """Each fragment's Misc/NEWS text ("" for one left out, its problem in `problems`), and
    whether the first one kept says "no changes" (None when none is kept).

    A run of fragments stands on its own: the runs of one next/ folder can be rendered in
    different processes and put together by `_next_text`.
    """
    pieces: list[str] = []
    add = pieces.append
    first: bool | None = None
    folder_fds: dict[str, int | None] = {}
    try:
        for section, name, base in items:
            if base not in folder_fds:
                folder_fds[base] = os.open(base, _DIR_FLAGS) if _DIR_FD else None
            folder_fd = folder_fds[base]
            piece = None
            text = None
            try:
                fd = os.open(name if folder_fd is not None else os.path.join(base, name), _READ_FLAGS,
                             dir_fd=folder_fd)
                try:
                    data = os.read(fd, _SMALL)
                finally:
                    os.close(fd)
                if len(data) < _SMALL:  # (else `read_text` reads it all)
                    text = data.decode("utf-8")
                    if "\r" in text:  # universal newlines, as `read_text`
                        text = text.replace("\r\n", "\n").replace("\r", "\n")
                    piece = _fragment_fast(name, text)
            except (UnicodeDecodeError, OSError):
                text = None
            if piece is None:  # the reference path, which also names any problem
                entry = load_fragment(FragmentFile(os.path.join(base, name), section), problems, lazy=True,
                                      text=text)
                if entry is None:
                    add("")
                    continue
                if first is None:
                    first = "no changes" in entry.metadata
                piece = entry_text(entry.metadata, entry.body, entry.plain)
            elif first is None:
                first = False
            add(piece)
    finally:
        for open_fd in folder_fds.values():
            if open_fd is not None:
                os.close(open_fd)
    return pieces, first


def _next_text(items: Sequence[tuple[str, str, str]], pieces: Sequence[str], first: bool | None,
               next_label: str | None) -> str:
    """The next/ block from every fragment's piece (see `_fragment_pieces`); "" without any."""
    if first is None:
        return ""
    if first:
        raise _Unusual  # a "no changes" fragment first: the reference path
    out = version_heading(NEXT, UNRELEASED_DATE, next_label)
    last_section = None
    for (section, _, _), piece in zip(items, pieces):
        if piece:
            if section != last_section:
                last_section = section
                out += [section, "-" * len(section), ""]
            out.append(piece)
    return "\n".join(out)


# ---- the whole tree ------------------------------------------------------------------------

def _blocks(news_dir: str, names: Sequence[str], next_label: str | None,
            sections: tuple[str, ...] = SECTIONS,
            items: list[tuple[str, str, str]] | None = None) -> tuple[list[str], list[Problem]]:
    problems: list[Problem] = []
    blocks = [_next_block(news_dir, next_label, problems, sections, items) if name == NEXT
              else _version_block(news_dir, name, problems) for name in names]
    return blocks, problems


# A share of the work for one process: a released version (its name), or a run of next/
# fragments (start and stop in `next_items`).
_Task = str | tuple[int, int]


def _tasks(news_dir: str, names: Sequence[str],
           items: list[tuple[str, str, str]]) -> tuple[list[_Task], list[int]]:
    """The tree cut into shares, with a rough cost for each (bytes of a version file; fragments
    counted as bytes too). next/ is cut into runs, so that its thousands of fragments (all
    there is to render once the released versions are cached) are shared out too."""
    tasks: list[_Task] = []
    costs = []
    for name in names:
        if name == NEXT:
            parts = min(_NEXT_PARTS, len(items))
            for part in range(parts):
                start, stop = len(items) * part // parts, len(items) * (part + 1) // parts
                tasks.append((start, stop))
                costs.append((stop - start) * _FRAGMENT_COST_BYTES)
        else:
            tasks.append(name)
            try:
                costs.append(os.stat(os.path.join(news_dir, f"{name}.rst")).st_size)
            except OSError:
                costs.append(0)
    return tasks, costs


def _run(news_dir: str, task: _Task, items: list[tuple[str, str, str]],
         problems: list[Problem]) -> list[str]:
    """One share's text: a version's block, or a run's pieces and then its `first` as text."""
    if isinstance(task, str):
        return [_version_block(news_dir, task, problems)]
    pieces, first = _fragment_pieces(items[task[0]:task[1]], problems)
    return [*pieces, _FIRST_TEXT[first]]


_FIRST_TEXT = {None: "", False: "0", True: "1"}
_FIRST_OF = {text: first for first, text in _FIRST_TEXT.items()}


def _size(task: _Task) -> int:
    """How many strings `_run` gives for `task`."""
    return 1 if isinstance(task, str) else task[1] - task[0] + 1


def default_jobs() -> int:
    """How many processes merge may use: `RELMAN_NEWS_JOBS`, else the CPUs this process may run on (≤ 2)."""
    wanted = os.environ.get("RELMAN_NEWS_JOBS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(cpus, 2)


def _can_fork() -> bool:
    # Forking a process that runs other threads can deadlock the child (a lock held by a thread
    # that does not exist there); such callers get the serial merge. Only on Linux: macOS
    # system frameworks are not fork-safe, and Windows has no fork.
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _split(costs: list[int], head_start: int = 0) -> tuple[list[int], list[int]]:
    """Share the work out between two processes, largest first to the less loaded one.

    The worker starts a little behind: it must also send its text back (about a tenth of the
    time it spent making it) before the parent can finish. The parent starts `head_start`
    behind (what it has to do besides, such as reading cached blocks).
    """
    mine: list[int] = []
    theirs: list[int] = []
    load = [head_start, sum(costs) // 20]
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        if load[0] <= load[1]:
            mine.append(index)
            load[0] += costs[index]
        else:
            theirs.append(index)
            load[1] += costs[index]
    return sorted(mine), sorted(theirs)


def _send(fd: int, blocks: list[str]) -> None:
    """Blocks down a pipe: their UTF-8 sizes on one line, then the bytes."""
    data = [block.encode("utf-8") for block in blocks]
    view = memoryview(b"".join([" ".join(str(len(d)) for d in data).encode("ascii"), b"\n", *data]))
    while view:
        view = view[os.write(fd, view):]


def _receive(payload: bytes, count: int) -> list[str] | None:
    head, newline, rest = payload.partition(b"\n")
    sizes = [int(size) for size in head.split()]
    if not newline or len(sizes) != count or sum(sizes) != len(rest):
        return None
    blocks, start = [], 0
    for size in sizes:
        blocks.append(rest[start:start + size].decode("utf-8"))
        start += size
    return blocks


_DEFAULT_CACHE = object()


def merge_blocks(news_dir: Path | str, *, next_label: str | None = None, jobs: int | None = None,
                 cache: VersionCache | None | object = _DEFAULT_CACHE, variant: str = "",
                 sections: tuple[str, ...] = SECTIONS) -> tuple[list[str], list[Problem]]:
    """Every version's block of Misc/NEWS, newest first (see `render.join_blocks`), and the problems.

    Released versions already rendered with the same rules come from `cache` (default: the
    user's cache folder, see `cache.py`; None for none), keyed by their content and `variant`
    (settings that change the rendering). `jobs` caps the processes used for the rest (default
    `default_jobs()`); with 2 or more and a large tree about half of the rendering is done in a
    forked worker. The result depends on neither.
    """
    news_dir = os.fspath(news_dir)
    names = version_names(Path(news_dir))
    if cache is _DEFAULT_CACHE:
        cache = VersionCache(cache_dir(), variant)
    if not isinstance(cache, VersionCache) or cache.root is None:
        return _merge(news_dir, names, next_label, jobs, sections)[:2]
    keys: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name in names:
        if name == NEXT:
            continue
        try:
            with open(os.path.join(news_dir, f"{name}.rst"), "rb") as handle:
                data = handle.read()
        except OSError:
            continue  # rendered (and its problem reported) the usual way
        keys[name] = cache.key(name, data)
        sizes[name] = len(data)
    # Only whether a block is stored is asked here: reading and checking it is left for after
    # the worker has started (see `_merge`), where it runs alongside the worker's rendering.
    stored = {name: key for name, key in keys.items() if cache.has(key)}
    blocks, problems, loaded = _merge(news_dir, names, next_label, jobs, sections, cache, stored,
                                      sum(sizes[name] for name in stored) // _CACHED_COST_DIVISOR)
    if not problems:
        for name, block in zip(names, blocks):
            if name in keys and name not in loaded and block:
                cache.put(keys[name], block)
    return blocks, problems


def _load(cache: VersionCache | None, stored: dict[str, str]) -> dict[str, str]:
    """The stored blocks that read back intact, by version name (a damaged one is left out)."""
    loaded = {}
    if cache is not None:
        for name, key in stored.items():
            block = cache.get(key)
            if block is not None:
                loaded[name] = block
    return loaded


def _merge(news_dir: str, names: Sequence[str], next_label: str | None, jobs: int | None,
           sections: tuple[str, ...] = SECTIONS, cache: VersionCache | None = None,
           stored: dict[str, str] | None = None,
           stored_cost: int = 0) -> tuple[list[str], list[Problem], set[str]]:
    """`merge_blocks` once the cache has been asked which versions it holds (`stored`: name to
    key); also returns the names whose block came from the cache."""
    stored = stored or {}
    todo = [name for name in names if name not in stored]
    jobs = default_jobs() if jobs is None else jobs
    items: list[tuple[str, str, str]] | None = None
    tasks: list[_Task] = []
    costs: list[int] = []
    if jobs >= 2 and todo and _can_fork():
        items = next_items(news_dir, sections) if NEXT in todo else []
        tasks, costs = _tasks(news_dir, todo, items)
    if sum(costs) < PARALLEL_MIN_ENTRIES * _FRAGMENT_COST_BYTES:
        tasks = []
    mine, theirs = _split(costs, stored_cost) if tasks else ([], [])
    pid = -1
    if theirs:
        read_end, write_end = os.pipe()
        try:  # a larger pipe: the text comes back in a few big writes, not a hundred small ones
            import fcntl

            fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (ImportError, OSError):
            pass
        try:
            pid = os.fork()
        except OSError:  # no memory or too many processes: do it all here
            os.close(read_end)
            os.close(write_end)
        if pid == 0:  # the worker: render its shares, send them back, leave without clean-up
            status = 1
            try:
                os.close(read_end)
                problems: list[Problem] = []
                assert items is not None
                sent = [text for index in theirs for text in _run(news_dir, tasks[index], items, problems)]
                if not problems:  # (with problems the parent redoes these shares to name them: no hurry then)
                    _send(write_end, sent)
                    status = 0
            finally:
                os._exit(status)
    if pid < 0:  # one process
        loaded = _load(cache, stored)
        rest = [name for name in names if name not in loaded]
        rendered, problems = _blocks(news_dir, rest, next_label, sections, items)
        by_name = {**loaded, **dict(zip(rest, rendered))}
        return [by_name[name] for name in names], problems, set(loaded)
    os.close(write_end)
    assert items is not None
    results: dict[int, tuple[list[str], list[Problem]]] = {}
    try:
        loaded = _load(cache, stored)
        # A stored block that did not read back intact: rendered here, as without a cache.
        blocks = dict(loaded)
        problems = []
        for name in stored:
            if name not in loaded:
                blocks[name] = _version_block(news_dir, name, problems)
        for index in mine:
            found: list[Problem] = []
            results[index] = _run(news_dir, tasks[index], items, found), found
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1
            payload = pipe.read()
    finally:
        if read_end >= 0:
            os.close(read_end)
        _, status = os.waitpid(pid, 0)
    received = _receive(payload, sum(_size(tasks[index]) for index in theirs)) if status == 0 else None
    if received is None:  # problems found, or the worker failed (killed, out of memory…)
        for index in theirs:
            found = []
            results[index] = _run(news_dir, tasks[index], items, found), found
    else:
        start = 0
        for index in theirs:
            size = _size(tasks[index])
            results[index] = received[start:start + size], []
            start += size
    problems += _assemble(news_dir, todo, tasks, items, results, next_label, sections, blocks)
    return [blocks[name] for name in names], sorted(problems), set(loaded)


def _assemble(news_dir: str, names: Sequence[str], tasks: list[_Task], items: list[tuple[str, str, str]],
              results: dict[int, tuple[list[str], list[Problem]]], next_label: str | None,
              sections: tuple[str, ...], blocks: dict[str, str]) -> list[Problem]:
    """Each of `names`' blocks into `blocks`, from its shares' results; returns their problems."""
    problems: list[Problem] = []
    pieces: list[str] = []
    next_problems: list[Problem] = []
    first: bool | None = None
    for index, task in enumerate(tasks):
        texts, found = results[index]
        if isinstance(task, str):
            blocks[task] = texts[0]
            problems += found
        else:  # a run of next/, in order: its pieces, then whether its first kept one says "no changes"
            pieces += texts[:-1]
            next_problems += found
            if first is None:
                first = _FIRST_OF[texts[-1]]
    if NEXT in names:
        try:
            blocks[NEXT] = _next_text(items, pieces, first, next_label)
        except _Unusual:
            next_problems = []
            blocks[NEXT] = _next_reference(news_dir, next_label, next_problems, sections)
        problems += next_problems
    return problems
