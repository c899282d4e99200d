"""The reflow rules against blurb's own implementation (the peer, used here as an oracle)."""

from __future__ import annotations

import sys

import pytest

from conftest import require_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relman.news.wrap import _ASCII_ODD_SPACES, _OTHER_ODD_SPACES, has_odd_space, is_plain, wrap_body

blurb_text = require_module("blurb._utils.text")

# Words, spaces, newlines, list markers, literal markers, and the odd whitespace.
ALPHABET = st.sampled_from(["a", "bb", "word", "x" * 30, "y" * 80, " ", " ", "  ", "\n", "\n\n", "\n\n\n",
                            "* ", "- ", "1. ", "#. ", "::", ".", "\t", "\xa0", "\u3000", "é", "\x1c", "\r"])
TEXTS = st.lists(ALPHABET, max_size=120).map("".join)
PREFIXES = st.sampled_from(["", "gh-135000: ", "bpo-1234: ", "CVE-2025-1234, gh-135000: "])
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def blurb_parse_wrap(text: str) -> str:
    return blurb_text.textwrap_body(text.split("\n"))


@SETTINGS
@given(TEXTS)
def test_parse_wrap_matches_blurb(text):
    raw = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    assert wrap_body(raw) == blurb_parse_wrap(text)


@SETTINGS
@given(TEXTS, PREFIXES)
def test_merge_wrap_matches_blurb(text, prefix):
    body = blurb_parse_wrap(text)
    expected = blurb_text.textwrap_body(prefix + body, initial_indent="- ", subsequent_indent="  ")
    assert wrap_body(prefix + body, "- ", "  ") == expected


@SETTINGS
@given(TEXTS, PREFIXES)
def test_lazy_bodies_merge_to_the_same_text(text, prefix):
    """Merge skips filling at parse time; what it prints must not change."""
    raw = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    exact, lazy = wrap_body(raw), wrap_body(raw, lazy=True)
    assert wrap_body(prefix + lazy, "- ", "  ") == wrap_body(prefix + exact, "- ", "  ")


def test_second_reflow_pass_can_change_spacing():
    # Why blurb reflows twice: two spaces at a line break become one, and then more fits.
    text = "a" * 72 + ".  bb"
    assert wrap_body(text) == "a" * 72 + ". bb\n" == blurb_parse_wrap(text)


def test_odd_space_list_is_every_space_but_blank_and_newline():
    every = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(_ASCII_ODD_SPACES) | set(_OTHER_ODD_SPACES) == every - {" ", "\n"}


@pytest.mark.parametrize("text, odd", [("plain words\nand lines", False), ("tab\there", True),
                                       ("nbsp\xa0", True), ("é ü", False), ("ideo\u3000", True)])
def test_has_odd_space(text, odd):
    assert has_odd_space(text) is odd


def test_is_plain_rejects_trailing_space():
    assert is_plain("a\nb")
    assert not is_plain("a \nb")
    assert not is_plain("a\nb ")


def test_long_words_are_never_broken():
    url = "https://example.org/" + "segment-" * 20
    out = wrap_body(f"see {url} now", "- ", "  ")
    assert out == f"- see\n  {url}\n  now\n"


ODD_TEXTS = st.lists(st.sampled_from(["a", "word", "x" * 40, "y" * 90, " ", "  ", "\t", "\t\t", "\n", "\r",
                                      "\x0b", "\x0c", "\xa0", "\u3000", "\x1c", "a\xa0b", "\u2009"]),
                     min_size=1, max_size=80).map("".join).map(str.strip).filter(bool)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ODD_TEXTS, st.sampled_from([("", ""), ("- ", "  "), ("  ", "  ")]))
def test_odd_space_filling_is_textwrap_filling(text, indents):
    """The fast route for tabs and other odd whitespace fills exactly as textwrap does."""
    import textwrap

    from relman.news.wrap import WIDTH, _odd_fill

    first, rest = indents
    expected = textwrap.TextWrapper(width=WIDTH, break_long_words=False, break_on_hyphens=False,
                                    initial_indent=first, subsequent_indent=rest).wrap(text)
    assert _odd_fill(text, first, rest) == expected
