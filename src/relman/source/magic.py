"""Pre-flight: does the bytecode magic number agree with the test that pins it?

`Include/internal/pycore_magic_number.h` defines `PYC_MAGIC_NUMBER <n>`;
`Lib/test/test_importlib/test_util.py` pins `EXPECTED_MAGIC_NUMBER = <n>`. For a release
candidate or a final release they must agree (a changed magic number after rc1 invalidates
every .pyc users have); earlier it is worth a look. The policy (error or gate) belongs to the
caller; this module only reads the two files and reports.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailed
from ..version import Version

MAGIC_HEADER = "Include/internal/pycore_magic_number.h"
MAGIC_TEST = "Lib/test/test_importlib/test_util.py"

_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+PYC_MAGIC_NUMBER[ \t]+(\d+)\b", re.MULTILINE)
_EXPECTED = re.compile(r"^[ \t]*EXPECTED_MAGIC_NUMBER[ \t]*=[ \t]*(\d+)\b", re.MULTILINE)


@dataclass(frozen=True)
class MagicCheck:
    """The outcome: `status` is "match", "mismatch" or "not-applicable"."""

    status: str
    actual: int | None  # PYC_MAGIC_NUMBER in the header
    expected: int | None  # EXPECTED_MAGIC_NUMBER in the test
    actual_file: str
    expected_file: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status != "mismatch"

    @property
    def applicable(self) -> bool:
        return self.status != "not-applicable"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def _read_number(path: Path, pattern: re.Pattern[str], what: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8", errors="replace")
    match = pattern.search(text)
    if not match:
        raise CheckFailed(f"no {what} line found", where=str(path),
                          hint=f"expected a line like {what} 3650")
    line = text.count("\n", 0, match.start()) + 1
    return int(match[1]), line


def check_magic_number(repo: Path) -> MagicCheck:
    """Compare the header's `PYC_MAGIC_NUMBER` with the test's `EXPECTED_MAGIC_NUMBER`.

    Returns "not-applicable" when either file is absent (older versions, other projects);
    raises CheckFailed when a file exists but has no such line.
    """
    repo = Path(repo)
    header, test = repo / MAGIC_HEADER, repo / MAGIC_TEST
    absent = [rel for rel, path in ((MAGIC_HEADER, header), (MAGIC_TEST, test)) if not path.is_file()]
    if absent:
        return MagicCheck("not-applicable", None, None, MAGIC_HEADER, MAGIC_TEST,
                          f"not applicable: {' and '.join(absent)} not found in the tree")
    actual, actual_line = _read_number(header, _DEFINE, "#define PYC_MAGIC_NUMBER")
    expected, expected_line = _read_number(test, _EXPECTED, "EXPECTED_MAGIC_NUMBER =")
    actual_at, expected_at = f"{MAGIC_HEADER}:{actual_line}", f"{MAGIC_TEST}:{expected_line}"
    if actual == expected:
        return MagicCheck("match", actual, expected, actual_at, expected_at,
                          f"magic number {actual} agrees in {actual_at} and {expected_at}")
    return MagicCheck("mismatch", actual, expected, actual_at, expected_at,
                      f"magic numbers don't match: PYC_MAGIC_NUMBER is {actual} in {actual_at}, "
                      f"EXPECTED_MAGIC_NUMBER is {expected} in {expected_at}")


MAGIC_CHECK_FROM = (3, 14)   # run_release.py checks the magic number from 3.14 on


def check_magic_for_release(repo: Path, version: Version) -> MagicCheck:
    """The pre-flight magic-number check for a release: not applicable before 3.14 (as in
    release-tools) or when the files are absent, with the reason in `message`."""
    if not version.at_least(*MAGIC_CHECK_FROM):
        return MagicCheck("not-applicable", None, None, MAGIC_HEADER, MAGIC_TEST,
                          f"not applicable: {version} is older than 3.14, for which release-tools checks "
                          "the magic number")
    return check_magic_number(repo)
