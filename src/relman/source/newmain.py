"""A new feature version on `main` (`X.Y.0a0`, right after the previous version's beta 1).

CPython's own tooling opens `$EDITOR` on a list of files and leaves the edits to a person. Here
each of those files has deterministic rules (`CPYTHON_NEW_MAIN_RULES`, plain data), applied in
order; a missing file is reported and skipped. Then the What's New skeleton `Doc/whatsnew/X.Y.rst`
is created and listed above the previous version in `Doc/whatsnew/index.rst`.

`configure` is generated from `configure.ac`, so a follow-up note says to regenerate it
(`Tools/build/regen-configure.sh`); the release pipeline runs that as its own step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..errors import UsageError
from ..version import Version
from .edits import EditSet, newline_of
from .rules import FunctionRule, InsertLineRule, ReplaceRule, Rule, apply_rules

MAGIC_HEADER = "Include/internal/pycore_magic_number.h"
WHATSNEW_DIR = "Doc/whatsnew"
WHATSNEW_INDEX = "Doc/whatsnew/index.rst"
REGEN_CONFIGURE = "Tools/build/regen-configure.sh"
MAGIC_RANGE = 50  # each feature version gets 50 magic numbers (3600-3649 for 3.14, 3650-3699 for 3.15)

_STARTS = re.compile(r"^(?P<indent>[ \t]*)Python (?P<x>\d+)\.(?P<y>\d+) will start with (?P<n>\d+)[ \t]*$",
                     re.MULTILINE)
_MAGIC_DEFINE = re.compile(r"^(?P<head>#define[ \t]+PYC_MAGIC_NUMBER[ \t]+)(?P<n>\d+)", re.MULTILINE)
_ENTRY = re.compile(r"^(?P<indent>[ \t]+)Python \d+\.\d+\S* \d+\b.*$", re.MULTILINE)


def new_main_context(version: Version, magic_start: int | None = None) -> dict[str, object]:
    """The template fields for moving main from X.(Y-1) to X.Y."""
    if version.minor < 1:
        raise UsageError(f"{version}: cannot derive the previous feature version of X.0")
    x, y = version.major, version.minor
    return {
        "major": x, "minor": y, "old_minor": y - 1, "next_minor": y + 1,
        "dotted": f"{x}.{y}", "old_dotted": f"{x}.{y - 1}", "next_dotted": f"{x}.{y + 1}",
        "nodot": f"{x}{y}", "old_nodot": f"{x}{y - 1}",
        "magic_start": magic_start,
        "magic_end": None if magic_start is None else magic_start + MAGIC_RANGE - 1,
        "next_magic_start": None if magic_start is None else magic_start + MAGIC_RANGE,
    }


def magic_start_for(text: str, dotted: str) -> int | None:
    """The first magic number of feature version `dotted`, from pycore_magic_number.h's text.

    Before the bump the header says `Python X.Y will start with N`; after it, the list has
    `Python X.Ya0 N (Initial version)`. Either gives N.
    """
    for match in _STARTS.finditer(text):
        if f"{match['x']}.{match['y']}" == dotted:
            return int(match["n"])
    initial = re.search(rf"^[ \t]+Python {re.escape(dotted)}a0 (\d+) \(Initial version\)", text, re.MULTILINE)
    return int(initial[1]) if initial else None


def bump_magic_header(text: str, context: Mapping[str, object]) -> tuple[str, str]:
    """Start the new version's magic-number range in pycore_magic_number.h.

    Adds `Python X.Ya0 N (Initial version)` after the last list entry, moves the
    `Python X.Y will start with N` line to the next version (N + 50) and sets
    `#define PYC_MAGIC_NUMBER N`.
    """
    dotted, start = str(context["dotted"]), context["magic_start"]
    if re.search(rf"^[ \t]+Python {re.escape(dotted)}a0 \d+ \(Initial version\)", text, re.MULTILINE):
        return text, "up to date"
    starts = [m for m in _STARTS.finditer(text) if f"{m['x']}.{m['y']}" == dotted]
    if not starts or start is None:
        return text, ""
    line = starts[0]
    newline = newline_of(text)
    entries = [m for m in _ENTRY.finditer(text, 0, line.start())]
    indent = entries[-1]["indent"] if entries else line["indent"]
    insert_at = _after_entry(text, entries[-1]) if entries else line.start()
    new_entry = f"{indent}Python {dotted}a0 {start} (Initial version){newline}"
    moved = f"{line['indent']}Python {context['next_dotted']} will start with {context['next_magic_start']}"
    out = text[:insert_at] + new_entry + text[insert_at:line.start()] + moved + text[line.end():]
    out, defined = _MAGIC_DEFINE.subn(lambda m: m["head"] + str(start), out, count=1)
    message = f"started the {dotted} magic-number range at {start}"
    if not defined:
        message += "; no #define PYC_MAGIC_NUMBER line found: set it by hand"
    return out, message


def _after_entry(text: str, entry: re.Match[str]) -> int:
    """The offset just after a list entry, including its more-indented continuation lines."""
    pos = text.find("\n", entry.end()) + 1
    deeper = len(entry["indent"])
    while 0 < pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        line = text[pos:end]
        body = line.lstrip(" \t")
        if not body.strip() or len(line) - len(body) <= deeper:
            break
        pos = end
    return pos


def _py_version_list(path: str) -> InsertLineRule:
    return InsertLineRule(
        path=path,
        anchor=r'^[ \t]*- "{old_dotted}"[ \t]*\r?$',
        pattern=r'"(?P<v>\d+\.\d+)"',
        new={"v": "{dotted}"},
        present=r'^[ \t]*- "{dotted}"[ \t]*\r?$',
        description="added the version to the dropdown",
    )


def _lib_name(path: str) -> ReplaceRule:
    return ReplaceRule(
        path=path,
        pattern=r"python(?P<v>\d{2,})(?=t?(?:_d)?\.lib)",
        old={"v": "{old_nodot}"}, new={"v": "{nodot}"},
        description="import library name", required=path == "PC/pyconfig.h.in",
    )


CPYTHON_NEW_MAIN_RULES: tuple[Rule, ...] = (
    ReplaceRule("configure.ac", r"m4_define\(\s*\[PYTHON_VERSION\]\s*,\s*\[(?P<v>\d+\.\d+)\]\s*\)",
                old={"v": "{old_dotted}"}, new={"v": "{dotted}"}, description="PYTHON_VERSION"),
    ReplaceRule("configure.ac", r"AC_INIT\(\s*\[python\]\s*,\s*\[(?P<v>\d+\.\d+)\]",
                old={"v": "{old_dotted}"}, new={"v": "{dotted}"}, description="AC_INIT version",
                required=False),
    ReplaceRule("Doc/tutorial/interpreter.rst", r"\bpython(?P<v>\d+\.\d+)\b",
                old={"v": "{old_dotted}"}, new={"v": "{dotted}"}, description="python3.Y command"),
    ReplaceRule("Doc/tutorial/interpreter.rst", r"^[ \t]*Python (?P<v>\d+\.\d+) \(",
                old={"v": "{old_dotted}"}, new={"v": "{dotted}"}, description="interpreter banner",
                required=False),
    ReplaceRule("Doc/tutorial/stdlib.rst", r"\bPython(?P<v>\d{2,})\b",
                old={"v": "{old_nodot}"}, new={"v": "{nodot}"}, description="install directory",
                required=False),
    ReplaceRule("Doc/tutorial/stdlib2.rst", r"\bpython(?P<v>\d+\.\d+)\b",
                old={"v": "{old_dotted}"}, new={"v": "{dotted}"}, description="python3.Y command",
                required=False),
    ReplaceRule("Doc/tutorial/stdlib2.rst", r"\bPython(?P<v>\d{2,})\b",
                old={"v": "{old_nodot}"}, new={"v": "{nodot}"}, description="install directory",
                required=False),
    FunctionRule(MAGIC_HEADER, bump_magic_header, description="magic-number range",
                 uses=("magic_start", "next_magic_start")),
    InsertLineRule(
        "PC/launcher.c",
        anchor=r'\{[ \t]*\d+[ \t]*,[ \t]*\d+[ \t]*,[ \t]*L"{old_dotted}"[ \t]*\}',
        pattern=r'\{[ \t]*(?P<lo>\d+)[ \t]*,[ \t]*(?P<hi>\d+)[ \t]*,[ \t]*L"(?P<v>\d+\.\d+)"',
        new={"lo": "{magic_start}", "hi": "{magic_end}", "v": "{dotted}"},
        present=r'L"{dotted}"',
        description="magic-number range for the launcher"),
    _lib_name("PC/pyconfig.h"),
    _lib_name("PC/pyconfig.h.in"),
    _py_version_list(".github/ISSUE_TEMPLATE/bug.yml"),
    _py_version_list(".github/ISSUE_TEMPLATE/crash.yml"),
)


# ---- What's New ----------------------------------------------------------------------------

WHATSNEW_SECTIONS = (
    "Summary -- Release highlights",
    "New features",
    "Other language changes",
    "New modules",
    "Improved modules",
    "Optimizations",
    "Removed",
    "Deprecated",
    "Porting to Python {dotted}",
    "Build changes",
    "C API changes",
)


def whatsnew_skeleton(version: Version) -> str:
    """The first draft of `Doc/whatsnew/X.Y.rst`: title, draft notice and empty sections."""
    dotted = version.basic_version
    previous = f"{version.major}.{version.minor - 1}"
    title = f"What's New In Python {dotted}"
    bar = "*" * (len(title) + 4)
    parts = [
        bar, f"  {title}", bar, "",
        ":Editor: TBD", "",
        f"This article explains the new features in Python {dotted}, compared to {previous}.", "",
        "For full details, see the :ref:`changelog <changelog>`.", "",
        ".. note::", "",
        "   Prerelease users should be aware that this document is currently in draft",
        f"   form. It will be updated as Python {dotted} moves towards release, so it is",
        "   worth checking back even after reading earlier versions.", "",
    ]
    for section in WHATSNEW_SECTIONS:
        heading = section.replace("{dotted}", dotted)
        parts += ["", heading, "=" * len(heading), ""]
    return "\n".join(parts) + "\n"


_INDEX_ENTRY = re.compile(r"^(?P<indent>[ \t]+)(?P<v>\d+\.\d+)\.rst[ \t]*\r?$", re.MULTILINE)


def insert_whatsnew_entry(text: str, dotted: str, previous: str, *, where: str = WHATSNEW_INDEX) -> str:
    """`index.rst` with `   X.Y.rst` listed right above the previous version's entry."""
    entries = list(_INDEX_ENTRY.finditer(text))
    if any(m["v"] == dotted for m in entries):
        return text
    if not entries:
        raise UsageError("no `X.Y.rst` entries found in the toctree", where=where,
                         hint=f"add '   {dotted}.rst' to the What's New toctree by hand")
    above = next((m for m in entries if m["v"] == previous), entries[0])
    newline = newline_of(text)
    return text[:above.start()] + f"{above['indent']}{dotted}.rst{newline}" + text[above.start():]


def plan_whatsnew(edits: EditSet, version: Version) -> None:
    dotted = version.basic_version
    page = f"{WHATSNEW_DIR}/{dotted}.rst"
    if edits.exists(page):
        edits.note(page, "exists already: left as it is", "info")
    elif not edits.path(WHATSNEW_DIR).is_dir():
        edits.note(page, f"{WHATSNEW_DIR}/ not found: no What's New skeleton written", "skipped")
        return
    else:
        edits.write(page, whatsnew_skeleton(version))
        edits.note(page, "created the What's New skeleton", "info")
    if not edits.exists(WHATSNEW_INDEX):
        edits.note(WHATSNEW_INDEX, "file not found: skipped", "skipped")
        return
    previous = f"{version.major}.{version.minor - 1}"
    text = edits.read(WHATSNEW_INDEX)
    new = insert_whatsnew_entry(text, dotted, previous, where=str(edits.path(WHATSNEW_INDEX)))
    if new != text:
        edits.write(WHATSNEW_INDEX, new)
        edits.note(WHATSNEW_INDEX, f"listed {dotted}.rst above {previous}.rst", "info")


# ---- the whole a0 step ---------------------------------------------------------------------

def plan_new_main(edits: EditSet, version: Version, *, rules: Sequence[Rule] = CPYTHON_NEW_MAIN_RULES) -> None:
    """Plan every X.Y.0a0 edit (rules, What's New) in `edits`. `version` must be `X.Y.0a0`."""
    if not version.is_development_start:
        raise UsageError(f"{version} is not the start of a feature version (X.Y.0a0)",
                         hint=f"the new-main edits are for {version.next_minor} after {version.basic_version}"
                              " beta 1")
    magic_start = None
    if edits.exists(MAGIC_HEADER):
        magic_start = magic_start_for(edits.read(MAGIC_HEADER), version.basic_version)
    context = new_main_context(version, magic_start)
    apply_rules(edits, list(rules), context)
    plan_whatsnew(edits, version)
    if "configure.ac" in edits.changed():
        edits.note("configure", f"configure.ac changed: regenerate configure ({REGEN_CONFIGURE})", "follow-up")
