"""A hand-written news tree with every formatting rule we know of, one case per fragment."""

from __future__ import annotations

from pathlib import Path

from relman.news.synthetic import make_tree

from .peer import init_git

LONG_URL = "https://docs.python.org/3/library/" + "a-very-long-path-segment-" * 5 + "index.html"
FILLER = "the quick brown fox jumps over the lazy dog while the parser handles nested groups"

# (folder, file name, content)
FRAGMENTS = [
    ("Library", "2025-01-01-10-00-00.bpo-12345.bpoOne.rst",
     "A legacy bugs.python.org entry. " + FILLER + ".\n"),
    ("Security", "2025-01-01-10-00-01.gh-issue-135000.cveOne.rst",
     ".. cve: cve-2025-12345\n\nFix a vulnerability in :mod:`tarfile` where a crafted archive could write "
     "outside the destination with a very-long-hyphenated-word-that-should-not-break-at-hyphens.\n"),
    ("Security", "2025-01-01-10-00-02.gh-issue-135001.cveTwo.rst",
     "# a comment before the metadata\n\n.. CVE:   2024-99999\n\n\nAnother one, without a prefix.\n"),
    ("Library", "2025-01-01-10-00-03.gh-issue-135002.lists1.rst",
     "Intro paragraph that introduces a list and is long enough to need wrapping at the margin, "
     "honestly.\n\n* item one is a list item that is much longer than seventy-six characters and is "
     "never reflowed\n* item two\n\nAfter the list the text is reflowed again, " + FILLER + ".\n"),
    ("Library", "2025-01-01-10-00-04.gh-issue-135003.lists2.rst",
     "Numbered:\n\n1. first numbered item\n2. second\n\n#. auto-numbered item\n\n- dash item\n"),
    ("Library", "2025-01-01-10-00-05.gh-issue-135004.literal.rst",
     "Use it like this::\n\n    >>> import sys   \n    >>> sys.version_info[:2]  # kept as written, "
     "even when it is far longer than the margin allows\n    (3, 15)\n\nThen prose again, " + FILLER + ".\n"),
    ("Library", "2025-01-01-10-00-06.gh-issue-135005.literal2.rst",
     "A paragraph ending in a literal marker::\n\n* a list right after it\n\nand::\n\n\n\n   code after "
     "several blank lines\n"),
    ("Documentation", "2025-01-01-10-00-07.gh-issue-135006.longword.rst",
     "See " + LONG_URL + " for details, and also " + LONG_URL + "\n"),
    ("Documentation", "2025-01-01-10-00-08.gh-issue-135007.longfirst.rst", LONG_URL + " is first.\n"),
    ("Tests", "2025-01-01-10-00-09.gh-issue-135008.spaces.rst",
     "Sentence one ends here.  Sentence two follows with two spaces.  " + FILLER + ".  And again.  "
     + FILLER + ".  End.\n"),
    ("Tests", "2025-01-01-10-00-10.gh-issue-135009.tabs.rst",
     "Tabs\tinside\ttext and non\u00a0breaking spaces and an ideographic\u3000space, " + FILLER + "\t"
     + FILLER + ".\n"),
    ("Tests", "2025-01-01-10-00-11.gh-issue-135010.indent.rst",
     "   Indented first line, " + FILLER + ",\n      with an indented continuation " + FILLER + ".\n"),
    ("Tests", "2025-01-01-10-00-12.gh-issue-135011.triple.rst",
     "First paragraph.\n\n\n* a list after three newlines " + FILLER + " " + FILLER + "\n\n\n\nLast.\n"),
    ("Tests", "2025-01-01-10-00-13.gh-issue-135012.indlist.rst",
     "Before.\n\n   * an indented list item that only looks like a list once stripped, " + FILLER + ".\n"),
    ("Build", "2025-01-01-10-00-14.gh-issue-135013.crlf.rst", None),  # CRLF, written below
    ("Core and Builtins", "2025-01-01-10-00-15.gh-issue-135014.legacy.rst",
     "In the legacy folder spelling. Unicode: naïve café Łukasz “quotes” 日本語.\n"),
    ("Core_and_Builtins", "2025-01-01-10-00-16.gh-issue-135015.modern.rst",
     "In the modern folder, sorted together with the legacy one.\n"),
    ("C API", "2025-01-01-10-00-17.gh-issue-135016.capi.rst", "Legacy C API folder.\n"),
    ("Unsupported platforms", "2025-01-01-10-00-18.gh-issue-135017.unsup.rst", "Legacy spelling.\n"),
    ("Tools-Demos", "2025-01-01-10-00-19.gh-issue-135018.tools.rst",
     "Trailing whitespace   \non lines   \n\n\n"),
    ("IDLE", "2025-01-01-10-00-20.gh-issue-135019.meta.rst",
     ".. unknown-key: kept as is\n.. Another Key :  Mixed Case  \n\nUnknown metadata is kept.\n"),
    ("macOS", "2025-01-01-10-00-21.gh-issue-135020.colon.rst",
     "Ends with a colon pair at the margin " + "x" * 30 + " " + FILLER + "::\n\n  literal\n"),
]

VERSIONS = {
    "3.9.0.rst": ".. date: 2020-10-05\n.. gh-issue: 0\n.. no changes: True\n.. nonce: abcdef\n"
                 ".. release date: 2020-10-05\n.. section: Library\n\nThere were no new changes in "
                 "version 3.9.0.\n",
    "3.10.0a1.rst": ".. bpo: 41000\n.. date: 2020-10-01-12-00-00\n.. nonce: aaaaaa\n.. release date: "
                    "2020-10-05\n.. section: Core and Builtins\n\nA bpo entry in a version file.\n\n..\n\n"
                    ".. bpo: 5\n.. date: 2020-10-01-12-00-01\n.. gh-issue: 0\n.. no changes: True\n.. nonce: bbbbbb\n.. section: "
                    "Library\n\nA gh-issue of 0 is truthy text, so no prefix at all.\n\n..\n\n"
                    ".. bpo: 0\n.. cve: CVE-2020-0001\n.. date: 2020-10-01-12-00-02\n.. nonce: cccccc\n"
                    ".. section: Security\n\nOnly the CVE as prefix.\n",
    "3.10.0.rst": "\n\n# comment\n.. release date: 2021-10-04\n\n.. section: Library\n.. gh-issue: 40000\n"
                  ".. nonce: dddddd\n.. date: 2021-01-01\n\nMetadata in any order, blank lines and "
                  "comments between, " + FILLER + " " + FILLER + ".\n",
    "3.10.0rc2.rst": ".. gh-issue: 39999\n.. release date: 2021-09-07\n.. section: Windows\n\nrc2.\n",
    "2.7.18.rst": ".. bpo: 1\n.. release date: 2020-04-20\n.. section: Library\n\nPython 2.\n",
}


def make_edge_tree(root: Path) -> Path:
    make_tree(root, released=0, per_version=0, next_count=0, git=False)
    news = root / "Misc" / "NEWS.d"
    for folder, name, content in FRAGMENTS:
        path = news / "next" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.write_bytes(b"A file with\r\nWindows line endings " + FILLER.encode() + b".\r\n\r\n"
                             b"Second paragraph.\r\n")
        else:
            path.write_text(content, encoding="utf-8")
    for name, content in VERSIONS.items():
        (news / name).write_text(content, encoding="utf-8")
    init_git(root)
    return root
