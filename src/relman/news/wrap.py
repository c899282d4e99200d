"""Reflowing entry text exactly the way blurb 2.3.0 does, only faster.

The rules (the output format is the contract, so these are fixed):

* trailing whitespace is removed from every line; paragraphs are split on blank lines;
* each paragraph is reflowed to 76 columns by greedy filling with `textwrap`'s semantics:
  words are never broken, not even at hyphens; the reflow runs twice, because the first pass
  can change the spacing at line breaks and the second makes the result stable;
* once a paragraph starts like a list item (`* `, `- `, `1. `, `#. `) it and every later
  paragraph are only indented, never reflowed; a paragraph right after one ending in `::`
  (a literal block) is not reflowed either;
* the result ends with exactly one newline.

Why it is fast: `textwrap` splits the text into a chunk per word and per space and walks them in
Python. For text whose only whitespace is plain spaces (nearly all of it), the same greedy
filling is computed with one `rfind` per output line, and when a paragraph is single-spaced the
second pass provably changes nothing, so it is skipped. Anything else (tabs, exotic Unicode
spaces, control characters) goes through `textwrap` itself, so the output stays identical.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import textwrap

WIDTH = 76

# Whitespace other than " " and "\n": `textwrap` and `str.strip()` treat these specially, so on
# them the fast path steps aside (tests check this list against str.isspace()).
_TRAILING_SPACE = re.compile(r"[^\S\n]\n|[^\S\n]\Z")
_ASCII_ODD_SPACES = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_OTHER_ODD_SPACES = ("\x85", "\xa0", "\u1680", *map(chr, range(0x2000, 0x200B)), "\u2028", "\u2029",
                     "\u202f", "\u205f", "\u3000")
_LIST_START = ("* ", "- ", "1. ", "#. ")

_line_patterns: dict[int, re.Pattern[str]] = {}


def _line_pattern(width: int) -> re.Pattern[str]:
    # One line of greedy filling over single-spaced text: the longest run of at most `width`
    # characters that ends before a space (or at the end); else one long word, unbroken.
    pattern = _line_patterns.get(width)
    if pattern is None:
        pattern = _line_patterns[width] = re.compile(rf"[^ ].{{0,{width - 1}}}(?= |$)|[^ ]+")
    return pattern


def has_odd_space(text: str) -> bool:
    """Does `text` hold whitespace other than " " and "\n" (tabs, CR, NBSP, Unicode spaces…)?"""
    for char in _ASCII_ODD_SPACES:
        if char in text:
            return True
    if text.isascii():
        return False
    for char in _OTHER_ODD_SPACES:
        if char in text:
            return True
    return False


_wrappers: dict[tuple[str, str], "textwrap.TextWrapper"] = {}


def _slow_fill(text: str, first: str, rest: str) -> list[str]:
    wrapper = _wrappers.get((first, rest))
    if wrapper is None:
        import textwrap  # only text with tabs or unusual spaces gets here

        wrapper = _wrappers[(first, rest)] = textwrap.TextWrapper(
            width=WIDTH, break_long_words=False, break_on_hyphens=False,
            initial_indent=first, subsequent_indent=rest)
    return wrapper.wrap(text)


# What textwrap does to whitespace before it splits words (expand_tabs, replace_whitespace):
# tabs become spaces to the next multiple of 8, then these characters become one space each.
_TEXTWRAP_SPACES = ("\n", "\r", "\x0b", "\x0c")


def _odd_fill(text: str, first: str, rest: str) -> list[str]:
    """textwrap's filling for text with tabs, CR, vertical tab or form feed (no leading or
    trailing whitespace). Once textwrap's own clean-up has turned those into spaces, the only
    word separator left is " ", which is the case `_fast_fill` computes exactly. Other whitespace
    (NBSP, Unicode spaces, \x1c-\x1f) textwrap keeps inside words, as `_fast_fill` does; only
    a word made of nothing else, which textwrap drops at a line end, goes to textwrap itself."""
    munged = text.expandtabs() if "\t" in text else text
    for char in _TEXTWRAP_SPACES:  # (str.replace: many times faster than str.translate here)
        if char in munged:
            munged = munged.replace(char, " ")
    if has_odd_space(munged) and any(word.isspace() for word in munged.split(" ")):
        # A "word" made only of such whitespace is dropped by textwrap at a line end: its rules.
        return _slow_fill(text, first, rest)
    return _fast_fill(munged, first, rest)


def _fast_fill(text: str, first: str, rest: str) -> list[str]:
    """Greedy filling of `text` (no leading/trailing space, no whitespace but ' ') like textwrap."""
    size = len(text)
    if not size:
        return []
    width = WIDTH - len(first)
    if size <= width:
        return [first + text]
    lines = []
    indent = first
    pos = 0
    while True:
        if size - pos <= width:
            lines.append(indent + text[pos:])
            return lines
        end = pos + width
        if text[end] == " ":
            # A word ends exactly at the margin, or a run of spaces straddles it.
            lines.append(indent + text[pos:end].rstrip(" "))
            pos = end
        else:
            space = text.rfind(" ", pos, end)
            if space < 0:
                # One word longer than the line: it gets a line of its own, unbroken.
                space = text.find(" ", end)
                if space < 0:
                    lines.append(indent + text[pos:])
                    return lines
                lines.append(indent + text[pos:space])
                pos = space
            else:
                lines.append(indent + text[pos:space].rstrip(" "))
                pos = space + 1
        while text[pos] == " ":  # the spaces at a break are dropped
            pos += 1
        indent = rest
        width = WIDTH - len(rest)


def _reflow(paragraph: str, first: str, rest: str, strip_prefix: str, plain: bool, lazy: bool) -> str:
    """Two reflow passes over one paragraph, as blurb does."""
    text = paragraph.strip()
    if not text:
        return ""
    if not plain and has_odd_space(text):
        once = "\n".join(_odd_fill(text, first, rest)).rstrip()
        once = once.removeprefix(strip_prefix)
        return "\n".join(_odd_fill(once.strip(), first, rest)).rstrip()
    text = text.replace("\n", " ")
    if "  " not in text:
        # Single spaces only: the second pass sees the same words and the same break points.
        if lazy and not text.startswith(_LIST_START):
            # (Text that only starts like a list item once stripped is kept exact: merge would
            # print it as written rather than fill it.)
            return text
        if len(first) == len(rest):
            return first + ("\n" + rest).join(_line_pattern(WIDTH - len(first)).findall(text))
        return "\n".join(_fast_fill(text, first, rest))
    once = "\n".join(_fast_fill(text, first, rest))
    once = once.removeprefix(strip_prefix).strip().replace("\n", " ")
    return "\n".join(_fast_fill(once, first, rest))


def wrap_body(text: str, first_indent: str = "", rest_indent: str = "", *,
              plain: bool = False, lazy: bool = False) -> str:
    """Reflow entry text the way blurb's merge and save do; the result ends with one newline.

    `first_indent` starts the first line of the first paragraph, `rest_indent` every other line.
    `plain=True` promises that the text has no trailing spaces on any line and no whitespace
    but " " and "\n" (see `is_plain`), which skips those checks.

    `lazy=True` (for text that is reflowed again before anyone sees it, as merge does) leaves a
    single-spaced paragraph on one line instead of filling it: the next reflow only looks at
    its words, so the final output is the same and the work is done once instead of twice.
    """
    if not plain and _TRAILING_SPACE.search(text) is not None:
        text = "\n".join([line.rstrip() for line in text.split("\n")])
    out = []
    indent = first_indent
    verbatim = False
    for paragraph in text.split("\n\n"):
        verbatim = verbatim or paragraph.startswith(_LIST_START)
        if verbatim:
            if indent or rest_indent:
                lines = paragraph.split("\n")
                paragraph = indent + lines[0].rstrip()
                if len(lines) > 1:
                    paragraph += "".join(["\n" + rest_indent + line.rstrip() for line in lines[1:]])
        else:
            paragraph = _reflow(paragraph, indent, rest_indent, first_indent, plain, lazy)
        out.append(paragraph)
        verbatim = paragraph.endswith("::")  # a literal block follows: keep it as written
        if rest_indent:
            indent = rest_indent
    return "\n\n".join(out).rstrip() + "\n"


def is_plain(text: str) -> bool:
    """No trailing whitespace on any line, and no whitespace other than " " and "\n"."""
    return not has_odd_space(text) and " \n" not in text and not text.endswith(" ")
