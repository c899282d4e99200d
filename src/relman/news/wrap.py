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
import textwrap

WIDTH = 76

# Characters that `textwrap` or `str.strip()` treat as whitespace, other than " " and "\n".
# On these the fast path steps aside (tests check this list against str.isspace()).
_UNUSUAL_SPACE = re.compile(
    "[\t\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_TRAILING_SPACE = re.compile(r"[^\S\n]\n|[^\S\n]\Z")
_LIST_START = ("* ", "- ", "1. ", "#. ")

_wrappers: dict[tuple[str, str], textwrap.TextWrapper] = {}


def _slow_fill(text: str, first: str, rest: str) -> list[str]:
    wrapper = _wrappers.get((first, rest))
    if wrapper is None:
        wrapper = _wrappers[(first, rest)] = textwrap.TextWrapper(
            width=WIDTH, break_long_words=False, break_on_hyphens=False,
            initial_indent=first, subsequent_indent=rest)
    return wrapper.wrap(text)


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


def _reflow(paragraph: str, first: str, rest: str, strip_prefix: str) -> str:
    """Two reflow passes over one paragraph, as blurb does."""
    text = paragraph.strip()
    if _UNUSUAL_SPACE.search(text) is not None:
        once = "\n".join(_slow_fill(text, first, rest)).rstrip()
        once = once.removeprefix(strip_prefix)
        return "\n".join(_slow_fill(once.strip(), first, rest)).rstrip()
    text = text.replace("\n", " ")
    once = "\n".join(_fast_fill(text, first, rest))
    if "  " not in text:
        # Single spaces only: the second pass sees the same words and the same break points.
        return once
    once = once.removeprefix(strip_prefix).strip().replace("\n", " ")
    return "\n".join(_fast_fill(once, first, rest))


def wrap_body(text: str, first_indent: str = "", rest_indent: str = "") -> str:
    """Reflow entry text the way blurb's merge and save do; the result ends with one newline.

    `first_indent` starts the first line of the first paragraph, `rest_indent` every other line.
    """
    if _TRAILING_SPACE.search(text) is not None:
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
            paragraph = _reflow(paragraph, indent, rest_indent, first_indent)
        out.append(paragraph)
        verbatim = paragraph.endswith("::")  # a literal block follows: keep it as written
        if rest_indent:
            indent = rest_indent
    return "\n\n".join(out).rstrip() + "\n"
