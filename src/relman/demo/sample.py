"""The sample project for rehearsals: a small CPython-shaped repository with a real history.

It has what the release steps touch in CPython (Include/patchlevel.h with its constants
block, README.rst, LICENSE, Misc/NEWS.d fragments in blurb format, Doc/ with `next`
directives and a Sphinx conf.py, the magic-number files, a partial SBOM) and a small C
program with a Makefile and tests, so test-source builds and tests it for real. Its history
holds the earlier releases of the series as tags, so the version being rehearsed is a
valid next release; bare `upstream.git` and `fork.git` stand in for GitHub.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..source.patchlevel import END_MARKER, START_MARKER, render_constants
from ..version import Version

# Sections used for the sample's news fragments (blurb folder names).
SECTIONS = ["Security", "Core_and_Builtins", "Library", "Documentation", "Tests", "Build", "C_API"]
MAGIC_NUMBER = 3627


@dataclass
class SampleProject:
    root: Path          # the demo folder
    repo: Path          # the release manager's working clone
    upstream: Path      # bare repository standing in for python/cpython
    fork: Path          # bare repository standing in for the RM's fork


def history_for(target: Version) -> list[Version]:
    """Earlier releases of the target's series, in order, so the target is a valid next one."""
    if target.is_development_start:
        return []
    chain: list[Version] = []
    current = Version(target.major, target.minor, 0, "a", 1)
    while current < target:
        chain.append(current)
        same_stage, next_stage = current.successors()[0], current.successors()[-1]
        current = next_stage if next_stage <= target else same_stage
    return chain


# The real release-schedule PEPs where they exist, so the sample's README links look familiar.
_PEPS = {(3, 12): 693, (3, 13): 719, (3, 14): 745, (3, 15): 790, (3, 16): 826}


def release_cycle_for(version: Version) -> dict[str, dict]:
    """Schedule data (release-cycle.json shape) for the sample: its series and its neighbours."""
    x, y = version.major, version.minor
    series: tuple[tuple[int, str], ...]
    if version.branch == "main":   # alphas and beta 1: the series is still developed on main
        series = ((y, "feature"), (y - 1, "bugfix"), (y - 2, "security"))
    else:
        series = ((y + 1, "feature"), (y, "prerelease" if version.is_prerelease else "bugfix"),
                  (y - 1, "bugfix"), (y - 2, "security"))
    rows = {}
    for minor, status in series:
        if minor < 0:
            continue
        rows[f"{x}.{minor}"] = {"branch": "main" if status == "feature" else f"{x}.{minor}",
                                "pep": _PEPS.get((x, minor), 700 + minor),
                                "status": status, "first_release": f"{2011 + minor}-10-01",
                                "end_of_life": f"{2016 + minor}-10", "release_manager": "Sample Release Manager"}
    return rows


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def create_sample_project(root: Path, version: Version, *, seed: int = 314, fragments: int = 12) -> SampleProject:
    """Create the sample repository, its history and its remotes under `root`."""
    root = Path(root)
    repo, upstream, fork = root / "cpython", root / "upstream.git", root / "fork.git"
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    init = root / "_init"
    init.mkdir()
    _git(init, "init", "-q", "-b", "main")
    _git(init, "config", "user.name", "Sample Developer")
    _git(init, "config", "user.email", "dev@sample.invalid")
    _git(init, "config", "commit.gpgsign", "false")
    _git(init, "config", "tag.gpgsign", "false")
    history = history_for(version)
    first = history[0] if history else version
    _write_tree(init, first)
    clock = datetime.now(timezone.utc) - timedelta(days=len(history) + 2)
    _commit(init, "Initial import of the sample project", clock)

    on_branch = "main"
    for n, earlier in enumerate(history):
        clock += timedelta(hours=12)
        if earlier.branch != "main" and on_branch == "main":
            _git(init, "checkout", "-q", "-b", earlier.basic_version)
            on_branch = earlier.basic_version
        _feature_commit(init, rng, clock, n)
        _set_version(init, earlier, done=False)
        _commit(init, f"Python {earlier}", clock)
        _git(init, "tag", "-a", earlier.git_tag, "-m", f"Python {earlier}")
        if earlier.is_feature_freeze:
            _git(init, "checkout", "-q", "-b", earlier.basic_version)
            on_branch = earlier.basic_version
        _set_version(init, earlier, done=True)
        _commit(init, f"Post {earlier}", clock + timedelta(minutes=5))
    if version.branch != on_branch:
        if version.branch == "main":
            _git(init, "checkout", "-q", "main")
        else:
            _git(init, "checkout", "-q", "-B", version.branch)
    on_branch = version.branch
    # Work since the last release: the news fragments this release will collect.
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(fragments):
        _news_fragment(init, rng, now - timedelta(minutes=fragments - i), i)
    _feature_commit(init, rng, now, 99)
    _commit(init, "Add news for the upcoming release", now)

    (root / "release-cycle.json").write_text(json.dumps(release_cycle_for(version), indent=2) + "\n")
    _git(root, "clone", "-q", "--bare", str(init), str(upstream))
    _git(root, "clone", "-q", "--bare", str(upstream), str(fork))
    _git(root, "clone", "-q", "-o", "upstream", "-b", on_branch, str(upstream), str(repo))
    _git(repo, "remote", "add", "origin", str(fork))
    _git(repo, "fetch", "-q", "origin")
    for key, value in (("user.name", "Demo Release Manager"), ("user.email", "rm@demo.invalid"),
                       ("commit.gpgsign", "false"), ("tag.gpgsign", "false")):
        _git(repo, "config", key, value)
    _remove_tree(init)
    return SampleProject(root, repo, upstream, fork)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path)


def _commit(repo: Path, message: str, when: datetime) -> None:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "PATH": _path(), "HOME": str(repo)}
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, env=env)


def _path() -> str:
    return os.environ.get("PATH", "/usr/bin:/bin")


def _set_version(repo: Path, version: Version, *, done: bool) -> None:
    patchlevel = repo / "Include" / "patchlevel.h"
    text = patchlevel.read_text()
    head, _, rest = text.partition(START_MARKER + "\n")
    _, _, tail = rest.partition(END_MARKER)
    patchlevel.write_text(head + START_MARKER + "\n" + render_constants(version, done=done) + END_MARKER + tail)
    readme = repo / "README.rst"
    lines = readme.read_text().splitlines(keepends=True)
    title = f"This is Python version {version.long_name}{version.post_release_suffix if done else ''}"
    lines[0], lines[1] = title + "\n", "=" * len(title) + "\n"
    readme.write_text("".join(lines))


def _news_fragment(repo: Path, rng: random.Random, when: datetime, n: int) -> None:
    section = SECTIONS[n % len(SECTIONS)]
    issue = 120000 + rng.randrange(1, 9999)
    nonce = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(6))
    folder = repo / "Misc" / "NEWS.d" / "next" / section
    folder.mkdir(parents=True, exist_ok=True)
    words = rng.sample(_WORDS, k=rng.randint(8, 20))
    body = f"Fix :func:`sample.{rng.choice(_WORDS)}` so that it " + " ".join(words) + ". Patch by Sample Developer."
    name = f"{when.strftime('%Y-%m-%d-%H-%M-%S')}.gh-issue-{issue}.{nonce}.rst"
    (folder / name).write_text(body + "\n")


def _feature_commit(repo: Path, rng: random.Random, when: datetime, n: int) -> None:
    path = repo / "Lib" / "sample.py"
    path.write_text(path.read_text() + f"\n\ndef feature_{n}():\n    return {rng.randint(1, 1000)}\n")
    doc = repo / "Doc" / "library" / "sample.rst"
    doc.write_text(doc.read_text() + f"\n.. function:: feature_{n}()\n\n   A feature.\n\n   .. versionadded:: next\n")


_WORDS = ("parser handles nested brackets unicode paths correctly when the buffer is empty and raises "
          "ValueError instead of crashing on invalid input while keeping memory usage bounded for large "
          "files streams sockets threads").split()


def _write_tree(repo: Path, version: Version) -> None:
    files = {
        "README.rst": _README.format(title=f"This is Python version {version.long_name}",
                                     line="=" * len(f"This is Python version {version.long_name}"),
                                     xy=version.basic_version),
        "LICENSE": "A. HISTORY OF THE SOFTWARE\n==========================\n\nThe sample project is a stand-in "
                   "for CPython used by relman's rehearsals.\n",
        "Include/patchlevel.h": _PATCHLEVEL.format(start=START_MARKER, end=END_MARKER,
                                                   constants=render_constants(version)),
        "Include/Python.h": "#ifndef Py_PYTHON_H\n#define Py_PYTHON_H\n#include \"patchlevel.h\"\n#endif\n",
        "Include/internal/pycore_magic_number.h": f"#define PYC_MAGIC_NUMBER {MAGIC_NUMBER}\n",
        "Lib/test/test_importlib/test_util.py": f"EXPECTED_MAGIC_NUMBER = {MAGIC_NUMBER}\n",
        "Python/ceval.c": _CEVAL,
        "Programs/python.c": _PROGRAM,
        "Makefile": _MAKEFILE,
        "Lib/sample.py": '"""The sample standard library."""\n\n\ndef add(a, b):\n    return a + b\n',
        "Lib/test/__init__.py": "",
        "Lib/test/test_sample.py": _TESTS,
        "Doc/conf.py": _DOC_CONF,
        "Doc/index.rst": _DOC_INDEX,
        "Doc/library/sample.rst": _DOC_LIBRARY,
        "Doc/whatsnew/index.rst": _WHATSNEW_INDEX.format(xy=version.basic_version),
        f"Doc/whatsnew/{version.basic_version}.rst": _WHATSNEW.format(xy=version.basic_version,
                                                                      line="*" * (len(version.basic_version) + 16)),
        "Misc/NEWS.d/next/Library/.gitignore": "",
        "relman.toml": _RELMAN_TOML,
        "Misc/sbom.spdx.json": json.dumps(_SBOM, indent=2, sort_keys=True) + "\n",
        "Modules/expat/COPYING": "Copyright (c) 1998-2000 Thai Open Source Software Center Ltd\n",
        "Modules/expat/expat.h": "/* a stand-in for the vendored expat header */\n",
        ".github/workflows/build.yml": "name: build\non: [push]\n",
        ".gitignore": "/python\n*.o\n__pycache__/\nDoc/build/\n",
        ".gitattributes": "*.c text eol=lf\n",
    }
    sbom = json.loads(files["Misc/sbom.spdx.json"])
    copying = hashlib.sha256(files["Modules/expat/COPYING"].encode()).hexdigest()
    sbom["files"][0]["checksums"][0]["checksumValue"] = copying
    files["Misc/sbom.spdx.json"] = json.dumps(sbom, indent=2, sort_keys=True) + "\n"
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


_RELMAN_TOML = """# relman's configuration for the sample project (a stand-in for CPython).
profile = "demo"
project = "Sample Python"
tools = ["git", "make", "cc"]

[remotes]
fork = "origin"
upstream = "upstream"
"""

_README = """{title}
{line}

The sample project stands in for CPython in relman's rehearsals.

- `What's New in Python {xy} <https://docs.python.org/{xy}/whatsnew/{xy}.html>`_
- `Documentation for Python {xy} <https://docs.python.org/{xy}/>`_
- `PEP 745 <https://peps.python.org/pep-0745/>`__ for Python {xy}

Build it with ``make`` and test it with ``make test``.
"""

_PATCHLEVEL = """/* Python version identification scheme (sample project). */
#ifndef Py_PATCHLEVEL_H
#define Py_PATCHLEVEL_H

#define PY_RELEASE_LEVEL_ALPHA  0xA
#define PY_RELEASE_LEVEL_BETA   0xB
#define PY_RELEASE_LEVEL_GAMMA  0xC
#define PY_RELEASE_LEVEL_FINAL  0xF

/* Version parsed out into numeric values */
{start}
{constants}{end}

#endif /* Py_PATCHLEVEL_H */
"""

_CEVAL = """/* The sample's evaluation loop: adds two numbers. */
int sample_eval(int a, int b) { return a + b; }
"""

_PROGRAM = """#include <stdio.h>
#include <string.h>
#include "Python.h"

int sample_eval(int a, int b);

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("Python %s\\n", PY_VERSION);
        return 0;
    }
    if (argc > 3 && strcmp(argv[1], "add") == 0) {
        int a, b;
        if (sscanf(argv[2], "%d", &a) != 1 || sscanf(argv[3], "%d", &b) != 1) return 2;
        printf("%d\\n", sample_eval(a, b));
        return 0;
    }
    fprintf(stderr, "usage: python --version | python add A B\\n");
    return 2;
}
"""

_MAKEFILE = """CC ?= cc
CFLAGS ?= -O1 -Wall

all: python

python: Programs/python.c Python/ceval.c Include/patchlevel.h Include/Python.h
\t$(CC) $(CFLAGS) -IInclude -o python Programs/python.c Python/ceval.c

test: python
\t./python --version
\ttest "$$(./python add 2 3)" = 5
\tpython3 -m unittest discover -s Lib/test -t Lib -q

clean:
\trm -f python

.PHONY: all test clean
"""

_TESTS = """import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
import sample


class SampleTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(sample.add(2, 3), 5)


if __name__ == "__main__":
    unittest.main()
"""

_DOC_CONF = """project = "Sample Python"
extensions = []
html_theme = "alabaster"
exclude_patterns = ["build"]
"""

_DOC_INDEX = """Sample Python documentation
===========================

.. toctree::

   library/sample
   whatsnew/index
"""

_DOC_LIBRARY = """:mod:`sample` --- the sample module
===================================

.. function:: add(a, b)

   Return the sum of *a* and *b*.

   .. versionchanged:: next
      Accepts any numbers.
"""

_WHATSNEW_INDEX = """What's New in Python
====================

.. toctree::
   :maxdepth: 2

   {xy}.rst
"""

_WHATSNEW = """What's New In Python {xy}
{line}

Nothing yet.
"""

_SBOM = {
    "SPDXID": "SPDXRef-DOCUMENT",
    "spdxVersion": "SPDX-2.3",
    "files": [
        {"SPDXID": "SPDXRef-FILE-Modules-expat-COPYING", "fileName": "Modules/expat/COPYING",
         "checksums": [{"algorithm": "SHA256", "checksumValue": ""}]},
    ],
    "packages": [
        {"SPDXID": "SPDXRef-PACKAGE-expat", "name": "expat", "versionInfo": "2.7.5",
         "downloadLocation": "https://github.com/libexpat/libexpat/releases/download/R_2_7_5/expat-2.7.5.tar.gz",
         "licenseConcluded": "MIT", "originator": "Organization: Expat development team",
         "primaryPackagePurpose": "SOURCE",
         "externalRefs": [{"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                           "referenceLocator": "cpe:2.3:a:libexpat_project:libexpat:2.7.5:*:*:*:*:*:*:*"}],
         "checksums": [{"algorithm": "SHA256",
                        "checksumValue": "9931f9860d18e6cf72d183eb8f309bfb96196c00e1d40caa978e95bc9aa978de"}]},
    ],
    "relationships": [
        {"spdxElementId": "SPDXRef-PACKAGE-expat", "relationshipType": "CONTAINS",
         "relatedSpdxElement": "SPDXRef-FILE-Modules-expat-COPYING"},
    ],
}
