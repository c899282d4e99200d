"""Rewriting named groups of regex matches, leaving everything else in the text alone."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping


def sub_groups(pattern: re.Pattern[str], text: str,
               values: Mapping[str, str | Callable[[re.Match[str]], str]],
               *, only_if: Mapping[str, str] | None = None, count: int = 0) -> tuple[str, int]:
    """Replace the text of the named groups in each match of `pattern` by `values[name]`.

    A value may be a string or a function of the match. With `only_if`, a match is rewritten
    only when each named group there currently holds exactly that text (so a rule that moves
    3.14 to 3.15 leaves a 2.7 alone). Returns the new text and how many matches were rewritten.
    """
    pieces: list[str] = []
    last = 0
    rewritten = 0
    for match in pattern.finditer(text):
        if count and rewritten >= count:
            break
        if only_if and any(match.group(name) != want for name, want in only_if.items()):
            continue
        spans = sorted((match.span(name), name) for name in values if match.group(name) is not None)
        for (start, end), name in spans:
            value = values[name]
            pieces.append(text[last:start])
            pieces.append(value(match) if callable(value) else value)
            last = end
        rewritten += 1
    pieces.append(text[last:])
    return "".join(pieces), rewritten
