"""Fixtures for the artifacts tests: small git repositories tagged like releases."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import git, require_tool

COMMIT_DATE = "2026-10-07T12:00:00Z"


def make_repo(root: Path, files: dict[str, str | bytes], *, tag: str = "v3.14.0rc1",
              executable: tuple[str, ...] = (), symlinks: dict[str, str] | None = None) -> Path:
    """A git repository with `files` committed at a fixed date and tagged `tag`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        if path in executable:
            target.chmod(0o755)
    for path, link in (symlinks or {}).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)
    git(root, "add", "-A", "-f")
    env = {**os.environ, "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE,
           "GIT_AUTHOR_NAME": "Test RM", "GIT_AUTHOR_EMAIL": "rm@example.org",
           "GIT_COMMITTER_NAME": "Test RM", "GIT_COMMITTER_EMAIL": "rm@example.org"}
    subprocess.run(["git", "commit", "-q", "-m", "release"], cwd=root, check=True, env=env)
    subprocess.run(["git", "tag", "-a", tag, "-m", tag], cwd=root, check=True, env=env)
    return root


SBOM_PARTIAL = """{
  "SPDXID": "SPDXRef-DOCUMENT",
  "files": [{"SPDXID": "SPDXRef-FILE-Modules-expat-COPYING",
             "checksums": [{"algorithm": "SHA256", "checksumValue": "%s"}],
             "fileName": "Modules/expat/COPYING"}],
  "packages": [{"SPDXID": "SPDXRef-PACKAGE-expat", "name": "expat", "versionInfo": "2.7.5",
                "downloadLocation": "https://github.com/libexpat/libexpat/releases/download/R_2_7_5/expat-2.7.5.tar.gz",
                "checksums": [{"algorithm": "SHA256", "checksumValue": "9931f9860d18e6cf72d183eb8f309bfb96196c00e1d40caa978e95bc9aa978de"}],
                "externalRefs": [{"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                                  "referenceLocator": "cpe:2.3:a:libexpat_project:libexpat:2.7.5:*:*:*:*:*:*:*"}],
                "licenseConcluded": "MIT", "originator": "Organization: Expat development team",
                "primaryPackagePurpose": "SOURCE"}],
  "relationships": [{"spdxElementId": "SPDXRef-PACKAGE-expat", "relationshipType": "CONTAINS",
                     "relatedSpdxElement": "SPDXRef-FILE-Modules-expat-COPYING"}],
  "spdxVersion": "SPDX-2.3"
}
"""

EXPAT_COPYING = "Copyright (c) 1998-2000 Thai Open Source Software Center Ltd and Clark Cooper\n"

MAKEFILE = """all: prog
prog: prog.c
\tcc -o prog prog.c
test: prog
\t./prog | grep -q {expected}
.PHONY: all test
"""

DOC_INDEX = """Sample docs
===========

.. versionadded:: {added}

   Something new.
"""


def sample_files(*, expected: str = "hello", added: str = "3.14", news: bool = True) -> dict[str, str]:
    import hashlib
    files = {
        "README.rst": "This is Python version 3.14.0 release candidate 1\n",
        "Include/patchlevel.h": '#define PY_VERSION "3.14.0rc1"\n',
        "prog.c": '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n',
        "Makefile": MAKEFILE.format(expected=expected),
        "Lib/os.py": "import sys\n",
        "Lib/__pycache__/os.cpython-314.pyc": "compiled",
        "Lib/stale.pyc": "compiled",
        "Doc/conf.py": 'project = "Sample"\nextensions = []\nexclude_patterns = ["build"]\n',
        "Doc/index.rst": DOC_INDEX.format(added=added),
        ".github/workflows/ci.yml": "on: push\n",
        ".gitignore": "*.o\n",
        ".gitattributes": "*.c text\n",
        "Modules/expat/COPYING": EXPAT_COPYING,
        "Misc/sbom.spdx.json": SBOM_PARTIAL % hashlib.sha256(EXPAT_COPYING.encode()).hexdigest(),
    }
    if news:
        files["Misc/NEWS.d/next/Library/2026-10-01-10-00-00.gh-issue-1.abcdef.rst"] = \
            ".. gh-issue: 1\n.. section: Library\n\nFixed a thing.\n"
    return files


def fake_news(files):
    """A deterministic stand-in for the news merge: lists the fragments it saw."""
    names = sorted(p for p in files if p.startswith("Misc/NEWS.d/"))
    return {"Misc/NEWS": ("Python News\n+++++++++++\n" + "".join(f"- {n}\n" for n in names)).encode()}


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", sample_files(), symlinks={"Tools/readme": "../README.rst"})


@pytest.fixture(scope="session")
def gpg_home(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway keyring with a freshly generated signing key: (home, fingerprint)."""
    require_tool("gpg")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    base = ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet"]
    subprocess.run(base + ["--passphrase", "", "--quick-gen-key", "Test RM <rm@example.org>", "ed25519",
                           "sign", "never"], check=True, capture_output=True)
    out = subprocess.run(base + ["--with-colons", "--list-secret-keys"], check=True, capture_output=True,
                         text=True).stdout
    fingerprint = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
    yield home, fingerprint
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
