"""The public operations on a news directory: check, release, merge, and writing a fragment.

Every function takes the `Misc/NEWS.d` folder explicitly; nothing here guesses where a CPython
checkout is, runs git, or prompts. Problems in the news files come back all at once (as
`Problem`s, or inside one `NewsError`), never as a traceback.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .fragments import (_FILENAME_DATE, Entry, Problem, normalize_cve, nonce_for, parse_entries,
                        parse_fragment_name, read_text, timestamp)
from .merge import merge_blocks
from .render import join_blocks, load_fragment, load_next, load_tree, load_version, render_release
from .sections import SECTIONS, SECURITY, folder_name, resolve_section, section_of_folder
from .tree import NEXT, list_fragments, require_news_dir, stray_files, version_names
from .wrap import wrap_body


class NewsError(UsageError):
    """The news files have problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem], *, action: str = "read the news"):
        self.problems = sorted(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"cannot {action}: {count} problem{'s' if count != 1 else ''} in the news files\n{lines}",
                         hint="fix them, then check with `relman news check`")


@dataclass
class ReleaseResult:
    """What `release` did: the version file written and the fragments it consumed."""

    path: Path
    version: str
    entries: int
    consumed: list[Path] = field(default_factory=list)
    no_changes: bool = False


# ---- check ---------------------------------------------------------------------------------

def stray_problems(news_dir: Path, sections: tuple[str, ...] = SECTIONS) -> list[Problem]:
    """Files under `next/` that blurb would skip without a word, each with what to do."""
    next_dir = news_dir / NEXT
    problems = []
    for path in stray_files(news_dir, sections):
        rel = path.relative_to(next_dir)
        if len(rel.parts) == 1:
            message = ("file directly in next/ is never merged or released; fragments go in "
                       "next/<Section folder>/ (for example next/Library/)")
        elif section_of_folder(rel.parts[0], sections) is None:
            message = (f"fragment in unknown section folder {rel.parts[0]!r} is never merged or released; "
                       f"move it to one of: {', '.join(folder_name(s) for s in sections)}")
            if sections is not SECTIONS and section_of_folder(rel.parts[0]) is not None:
                message += (" (the configured blurb version has no such section: "
                            "news.blurb_version in relman.toml)")
            guess = _guess_section(rel.parts[0]) if sections is SECTIONS else None
            if guess:
                message += f" (did you mean {folder_name(guess)!r}?)"
        elif len(rel.parts) > 2:
            message = "fragment in a nested folder is never merged or released; move it up one level"
        else:
            message = ("not a .rst file, so never merged or released; fragments are named "
                       "DATE.gh-issue-NUMBER.NONCE.rst")
        problems.append(Problem(path, 1, message))
    return problems


def _guess_section(folder: str) -> str | None:
    try:
        return resolve_section(folder)
    except ValueError:
        import difflib
        names = {folder_name(s).lower(): s for s in SECTIONS}
        close = difflib.get_close_matches(folder.lower(), list(names), n=1, cutoff=0.6)
        return names[close[0]] if close else None


def check_news(news_dir: Path, *, sections: tuple[str, ...] = SECTIONS,
               warnings: list[Problem] | None = None) -> list[Problem]:
    """Validate every fragment and every version file; return every problem (empty when all is well).

    Beyond what blurb checks, this reports files blurb would silently skip (unknown section
    folders, loose or non-.rst files under next/) and files starting with a UTF-8 byte order
    mark (blurb keeps it: an invisible character in Misc/NEWS). Historical fragment names that
    blurb accepts (`0074.bpo-28138.pNdv64.rst`, `2017-09-18.bpo-31507.dgs67n.rst`: a date that
    is not YYYY-MM-DD-HH-MM-SS) are not problems; they go to `warnings` when it is given.
    """
    news_dir = require_news_dir(news_dir)
    problems: list[Problem] = []
    names = version_names(news_dir)
    for name in names:
        if name != NEXT:
            path = news_dir / f"{name}.rst"
            _check_bom(path, problems)
            load_version(path, problems)
    for fragment in list_fragments(news_dir, sections):
        parsed = parse_fragment_name(os.path.basename(fragment.path))
        date = parsed.metadata.get("date")
        if date is not None and not _FILENAME_DATE.fullmatch(date):
            if _HISTORICAL_DATE.fullmatch(date):
                if warnings is not None:
                    warnings.append(Problem(Path(fragment.path), 1, f"the date {date!r} in the file name is not "
                                            "YYYY-MM-DD-HH-MM-SS (a historical name blurb accepts; new fragments "
                                            "carry the full date)"))
            else:  # no blurb ever wrote such a name (blurb itself would still read it)
                problems.append(Problem(Path(fragment.path), 1, f"the date {date!r} in the file name is not "
                                        "YYYY-MM-DD-HH-MM-SS (nor a historical form such as 0074 or 2017-09-18)"))
        if not parsed.problems and not parsed.metadata.get("nonce"):
            problems.append(Problem(Path(fragment.path), 1, "the nonce in the file name is empty"))
        _check_bom(Path(fragment.path), problems)
        load_fragment(fragment, problems)
    problems.extend(stray_problems(news_dir, sections))
    if warnings is not None:
        warnings.sort()
    return sorted(set(problems))


_BOM = b"\xef\xbb\xbf"
# Historical fragment names: the 2017 migration's counters (0074) and date-only names (2017-09-18).
_HISTORICAL_DATE = re.compile(r"\d+(?:-\d+)*")


def _check_bom(path: Path, problems: list[Problem]) -> None:
    try:
        with open(path, "rb") as handle:
            start = handle.read(3)
    except OSError:
        return
    if start == _BOM:
        problems.append(Problem(path, 1, "the file starts with a UTF-8 byte order mark (BOM), which blurb "
                                         "keeps as an invisible character in Misc/NEWS: save it as UTF-8 "
                                         "without a BOM"))


# ---- merge ---------------------------------------------------------------------------------

def merge_text(news_dir: Path, *, version_hint: str | None = None, jobs: int | None = None,
               sections: tuple[str, ...] = SECTIONS) -> tuple[str, list[Problem]]:
    """The merged Misc/NEWS text and the stray files found (warnings). Raises NewsError on problems.

    `jobs` caps the processes used on a large tree (default: `RELMAN_NEWS_JOBS` or up to 2 CPUs);
    the text is the same whatever it is (see `relman.news.merge`).
    """
    news_dir = require_news_dir(news_dir)
    blocks, problems = merge_blocks(news_dir, next_label=version_hint, jobs=jobs, sections=sections)
    if problems:
        raise NewsError(problems, action="merge")
    if not blocks:
        raise UsageError(f"nothing to merge in {news_dir}: no version files and no next/ folder",
                         hint="write a fragment with `relman news add` first")
    return join_blocks(blocks), stray_problems(news_dir, sections)


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when written."""
    try:
        if read_text(path) == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    _atomic_write(path, text)
    return True


def merge_news(news_dir: Path, output: Path | None = None, *, version_hint: str | None = None,
               jobs: int | None = None, sections: tuple[str, ...] = SECTIONS) -> str:
    """Merge every version file and the `next/` fragments into one Misc/NEWS text.

    Byte-identical to `blurb merge` (which also has no final newline). When `output` is given the
    file is written, but only if its content changes (this keeps Sphinx rebuilds quick); it is
    never prompted for. `version_hint` (e.g. "3.15.0a2") names the unreleased section instead of
    "next". Raises NewsError listing every problem when any file is malformed. `jobs` caps the
    processes used on a large tree (1: this one only); it never changes the result.
    """
    text, _ = merge_text(news_dir, version_hint=version_hint, jobs=jobs, sections=sections)
    if output is not None:
        write_if_changed(Path(output), text)
    return text


# ---- release -------------------------------------------------------------------------------

def _release_date(date: _dt.date | str | None) -> str:
    if date is None:
        return _dt.date.today().strftime("%Y-%m-%d")
    if isinstance(date, str):
        try:
            return _dt.date.fromisoformat(date).strftime("%Y-%m-%d")
        except ValueError:
            raise UsageError(f"invalid release date {date!r}", hint="use YYYY-MM-DD") from None
    return date.strftime("%Y-%m-%d")


def version_file(news_dir: Path, version: str) -> Path:
    from ..version import Version

    return Path(news_dir) / f"{Version.parse(version).text}.rst"


def canonical_version(version: str) -> str:
    """The version as blurb names its file (`3.15.0a3`); UsageError with a hint for any other spelling.

    blurb writes `Misc/NEWS.d/<VERSION>.rst` with the text given, so `v3.15.0a3` or `3.15.0c1`
    would make a file no release tool looks for; relman refuses them instead of renaming.
    """
    from ..version import Version

    raw = str(version).strip()
    parsed = Version.parse(raw)
    if parsed.text != raw:
        raise UsageError(f"{raw!r} is not the canonical spelling of the version",
                         hint=f"use {parsed.text} (X.Y.Z, X.Y.ZaN, X.Y.ZbN or X.Y.ZrcN, no leading 'v')")
    return raw


def release(news_dir: Path, version: str, *, date: _dt.date | str | None = None,
            sections: tuple[str, ...] = SECTIONS) -> ReleaseResult:
    """`release_news` with the details: what was written and which fragments were consumed."""
    news_dir = require_news_dir(news_dir)
    name = canonical_version(version)
    target = news_dir / f"{name}.rst"
    if target.exists():
        raise UsageError(f"{target} already exists: the news for {name} was released already",
                         where=str(target),
                         hint="new fragments belong to the next version; to redo this release, "
                              "restore the fragments and delete the file first")
    problems: list[Problem] = []
    entries, fragments = load_next(news_dir, problems, sections=sections)
    problems.extend(stray_problems(news_dir, sections))
    if problems:
        raise NewsError(problems, action=f"release {name}")
    release_date = _release_date(date)
    no_changes = not fragments
    if no_changes:
        body = f"There were no new changes in version {name}.\n"
        entries = [Entry({"no changes": "True", "gh-issue": "0", "section": "Library",
                          "date": release_date, "nonce": nonce_for(body)}, body)]
    entries[0].metadata["release date"] = release_date
    text = render_release(entries)
    again, found = parse_entries(text, target)
    if found or [(e.metadata, e.body) for e in again] != [(e.metadata, e.body) for e in entries]:
        raise UsageError(f"the release file for {name} would not read back the same "
                         "(an entry's text does not survive reflowing)",
                         hint="run `relman news check` and simplify the unusual entry")
    _atomic_write(target, text)
    consumed = [Path(fragment.path) for fragment in fragments]
    for path in consumed:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    # Like `git rm`, leave no empty folders behind (the README.rst in each keeps the usual ones).
    for folder in sorted({path.parent for path in consumed}, reverse=True):
        while folder != news_dir and folder.is_relative_to(news_dir):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    return ReleaseResult(target, name, len(entries), consumed, no_changes)


def release_news(news_dir: Path, version: str, *, date: _dt.date | str | None = None,
                 sections: tuple[str, ...] = SECTIONS) -> Path:
    """Collect every `next/` fragment into `<news_dir>/<version>.rst`, remove them, return the path.

    Byte-identical to `blurb release` (sections in order, newest first, metadata inline, the
    release date on the first entry; an empty next/ gives the "no changes" entry). `date`
    defaults to today (local time). Refuses (UsageError) when the version file exists, and
    (NewsError) when any fragment is malformed or sits where it would be skipped; in both cases
    nothing is written or removed. Staging in git is the caller's job.
    """
    return release(news_dir, version, date=date, sections=sections).path


# ---- add -----------------------------------------------------------------------------------

_GH_URL = re.compile(r"(?:https?://)?github\.com/python/cpython/(?:issues|pull)/(\d+)/?")


def parse_issue(issue: int | str) -> tuple[str, str]:
    """`135000`, `gh-135000`, `#135000`, a GitHub URL → ("gh-issue", "135000"); `bpo-1234` → ("bpo", …)."""
    if isinstance(issue, bool):
        raise UsageError(f"invalid issue {issue!r}")
    if isinstance(issue, int):
        return "gh-issue", str(issue)
    text = str(issue).strip()
    lowered = text.lower()
    for prefix, key in (("gh-issue-", "gh-issue"), ("gh-", "gh-issue"), ("#", "gh-issue"),
                        ("bpo-", "bpo"), ("", "gh-issue")):
        if lowered.startswith(prefix) and text[len(prefix):].isdecimal():
            return key, str(int(text[len(prefix):]))
    match = _GH_URL.fullmatch(text)
    if match:
        return "gh-issue", str(int(match[1]))
    raise UsageError(f"invalid issue {issue!r}",
                     hint="give a GitHub issue number (135000, gh-135000 or its URL) or bpo-NUMBER")


def fragment_text(section: str, issue: int | str, text: str, *, when: _dt.datetime | None = None,
                  nonce: str | None = None, cve: str | None = None) -> tuple[str, str]:
    """The relative path under next/ and the content of a new fragment (validated)."""
    try:
        section = resolve_section(section)
    except ValueError as error:
        raise UsageError(str(error)) from None
    key, number = parse_issue(issue)
    metadata: dict[str, str] = {}
    if cve is not None:
        normalized = normalize_cve(cve)
        if normalized is None:
            raise UsageError(f"invalid CVE identifier {cve!r}", hint="expected CVE-YYYY-NNNN")
        if section != SECURITY:
            raise UsageError(f"a CVE may only be given for the {SECURITY!r} section, not {section!r}")
        metadata["cve"] = normalized
    if not text.strip():
        raise UsageError("the news text is empty", hint="write one paragraph saying what changed")
    body = wrap_body("\n".join(line.rstrip() for line in text.split("\n")).rstrip())
    stamp = timestamp(when or _dt.datetime.now())
    nonce = nonce or nonce_for(body)
    name = f"{stamp}.{key}-{number}.{nonce}.rst"
    content = "".join(f".. {k}: {v}\n" for k, v in sorted(metadata.items()))
    content = (content + "\n" if content else "") + wrap_body(body)
    # Validate exactly as merge and release will read it back.
    parsed = parse_fragment_name(name)
    preset = {**parsed.metadata, "section": section}
    _, problems = parse_entries(content, Path(folder_name(section)) / name, preset=preset)
    if parsed.problems or problems:
        raise NewsError(problems or [Problem(Path(name), 1, m) for m in parsed.problems],
                        action="write the fragment")
    return f"{folder_name(section)}/{name}", content


def write_fragment(news_dir: Path, section: str, issue: int | str, text: str, *,
                   when: _dt.datetime | None = None, nonce: str | None = None,
                   cve: str | None = None) -> Path:
    """Write one `next/` fragment exactly as `blurb add` would save it; return its path.

    `section` may be spelled loosely ("library", "C_API"); `issue` is a GitHub issue number
    (int, "gh-N", "#N" or its URL) or "bpo-N". `when` (default now, local time) gives the
    file-name date; `nonce` defaults to blurb's hash of the text. Raises UsageError/NewsError
    for anything merge or release would reject, and when the file already exists.
    """
    news_dir = Path(news_dir)
    relative, content = fragment_text(section, issue, text, when=when, nonce=nonce, cve=cve)
    path = news_dir / NEXT / relative
    if path.exists():
        raise UsageError(f"{path} already exists", hint="give a different time or nonce")
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, content)
    return path


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file beside the target (O_EXCL: never someone else's), then one rename.
    # (tempfile.mkstemp would do, but importing tempfile costs `relman news merge` 5 ms.)
    for serial in itertools.count():
        temp = path.parent / f".{path.name}.{os.getpid()}.{serial}.tmp"
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(temp, 0o644 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["NewsError", "ReleaseResult", "check_news", "merge_news", "merge_text", "release",
           "release_news", "write_fragment", "fragment_text", "parse_issue", "stray_problems",
           "write_if_changed", "version_file", "load_tree"]
