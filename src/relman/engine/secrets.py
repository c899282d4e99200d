"""Secrets come from the environment (or keyring) and never reach the journal, logs or output.

`Redactor` knows the values of the secret environment variables — the ones the configuration
names, plus any whose name says it holds a secret — and replaces them wherever text leaves
the process: journal rows, events, errors, the terminal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|AUTH_INFO|CREDENTIAL|PRIVATE_KEY", re.I)
MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words


class Redactor:
    def __init__(self, names: Iterable[str] = (), environ: Mapping[str, str] | None = None,
                 values: Iterable[str] = ()):
        environ = os.environ if environ is None else environ
        wanted = set(names)
        found = {environ[n] for n in wanted if environ.get(n)}
        found |= {v for k, v in environ.items() if SECRET_NAME.search(k) and v}
        found |= set(values)
        # Longest first, so a secret containing another is masked whole.
        self._values = sorted((v for v in found if len(v) >= _MIN_LENGTH), key=len, reverse=True)
        self.names = sorted(wanted)

    def add(self, value: str) -> None:
        if value and len(value) >= _MIN_LENGTH and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text or not self._values:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text


def redact_file(path: Path, redact: Callable[[str], str]) -> bool:
    """Mask secrets in a log file written by another process; True when something was masked."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    masked = redact(text)
    if masked == text:
        return False
    path.write_text(masked)
    return True
