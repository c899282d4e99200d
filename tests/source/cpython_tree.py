"""A small CPython-shaped source tree, written by hand for the bump tests.

`build_tree(root, "3.15.0a5", suffix="+dev")` writes the files the bump reads, as a CPython
checkout would have them at that version. The text is deliberately written out here (not
rendered by relman) so the golden tests compare relman against an independent picture.
"""

from __future__ import annotations

from pathlib import Path

LEVEL_NAMES = {"a": "ALPHA", "b": "BETA", "rc": "GAMMA", "f": "FINAL"}
LONG = {"a": "alpha", "b": "beta", "rc": "release candidate"}


def _split(version: str) -> tuple[int, int, int, str, int]:
    import re

    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?", version)
    assert m, version
    return int(m[1]), int(m[2]), int(m[3]), m[4] or "f", int(m[5] or 0)


def patchlevel_h(version: str, suffix: str = "") -> str:
    x, y, z, level, serial = _split(version)
    return f"""
/* Python version identification scheme.

   When the major or minor version changes, the VERSION variable in
   configure.ac must also be changed.

   There is also (independent) API version information in modsupport.h.
*/

/* Values for PY_RELEASE_LEVEL */
#define PY_RELEASE_LEVEL_ALPHA  0xA
#define PY_RELEASE_LEVEL_BETA   0xB
#define PY_RELEASE_LEVEL_GAMMA  0xC     /* For release candidates */
#define PY_RELEASE_LEVEL_FINAL  0xF     /* Serial should be 0 here */
                                        /* Higher for patch releases */

/* Version parsed out into numeric values */
/*--start constants--*/
#define PY_MAJOR_VERSION        {x}
#define PY_MINOR_VERSION        {y}
#define PY_MICRO_VERSION        {z}
#define PY_RELEASE_LEVEL        PY_RELEASE_LEVEL_{LEVEL_NAMES[level]}
#define PY_RELEASE_SERIAL       {serial}

/* Version as a string */
#define PY_VERSION              "{version}{suffix}"
/*--end constants--*/

/* Version as a single 4-byte hex number, e.g. 0x010502B2 == 1.5.2b2.
   Use this for numeric comparisons, e.g. #if PY_VERSION_HEX >= ... */
#define PY_VERSION_HEX ((PY_MAJOR_VERSION << 24) | \\
                        (PY_MINOR_VERSION << 16) | \\
                        (PY_MICRO_VERSION <<  8) | \\
                        (PY_RELEASE_LEVEL <<  4) | \\
                        (PY_RELEASE_SERIAL << 0))
""".lstrip()


def readme_rst(version: str, suffix: str = "", pep: str = "790") -> str:
    x, y, z, level, serial = _split(version)
    name = f"{x}.{y}.{z}" + (f" {LONG[level]} {serial}" if level != "f" else "")
    title = f"This is Python version {name}{suffix}"
    xy = f"{x}.{y}"
    return f"""{title}
{"=" * len(title)}

.. image:: https://github.com/python/cpython/actions/workflows/build.yml/badge.svg?branch=main&event=push
   :alt: CPython build status on GitHub Actions
   :target: https://github.com/python/cpython/actions

Copyright © 2001 Python Software Foundation.  All rights reserved.

General Information
-------------------

- Website: https://www.python.org
- Source code: https://github.com/python/cpython

What's New
----------

We have a comprehensive overview of the changes in the `What's New in Python
{xy} <https://docs.python.org/{xy}/whatsnew/{xy}.html>`_ document.  For a more
detailed change log, read `Misc/NEWS
<https://github.com/python/cpython/tree/main/Misc/NEWS.d>`_.

Documentation
-------------

`Documentation for Python {xy} <https://docs.python.org/{xy}/>`_ is online,
updated daily.

Release Schedule
----------------

See `PEP {pep} <https://peps.python.org/pep-{pep.zfill(4)}/>`__ for Python {xy} release details.
"""


DOC_LIBRARY = """\
:mod:`!spam` --- Spam
=====================

.. function:: eggs()

   .. versionadded:: next

   .. versionchanged:: next
      The *ham* parameter.

.. function:: ham()

   .. deprecated:: next

   .. deprecated-removed:: next 3.20
      Use :func:`eggs`.

   .. versionremoved:: next

.. versionadded::next

..  versionchanged ::  next   as ``spam``

.. versionadded:: next-generation

.. versionadded:: NEXT

..versionadded:: next

... versionchanged:: next

see .. versionadded:: next

.. deprecated-removed:: 3.10 next

.. note:: next

.. versionadded:: 3.14
"""

WHATSNEW_INDEX = """\
.. _whatsnew-index:

######################
 What's New in Python
######################

The "What's New in Python" series of essays takes tours through the most
important changes between major Python versions.

.. toctree::
   :maxdepth: 2

   {y1}.rst
   {y0}.rst
   changelog.rst
"""

CONFIGURE_AC = """\
dnl ***************************************************
dnl * Please run autoreconf to test your changes! *
dnl ***************************************************

# Set VERSION so we only need to edit in one place (i.e., here)
m4_define([PYTHON_VERSION], [{xy}])

AC_PREREQ([2.72])

AC_INIT([python],[PYTHON_VERSION],[https://github.com/python/cpython/issues/])
"""

INTERPRETER_RST = """\
Invoking the Interpreter
========================

The Python interpreter is usually installed as :file:`/usr/local/bin/python{xy}`
on those machines where it is available:

.. code-block:: text

   python{xy}

Python 2 was installed as ``python2.7``.

.. code-block:: shell-session

   $ python{xy}
   Python {xy} (default, April 4 2023, 09:25:04)
   [GCC 10.2.0] on linux
"""

STDLIB_RST = """\
   >>> import os
   >>> os.getcwd()      # Return the current working directory
   'C:\\\\Python{nodot}'
"""

PYCONFIG_H_IN = """\
#ifdef MS_COREDLL
#       if !defined(Py_NO_LINK_LIB)
#               if defined(_DEBUG)
#                       pragma comment(lib,"python{nodot}_d.lib")
#               elif defined(Py_GIL_DISABLED)
#                       pragma comment(lib,"python{nodot}t.lib")
#               else
#                       pragma comment(lib,"python{nodot}.lib")
#               endif
#       endif
#endif
"""

LAUNCHER_C = """\
static MAGIC magic_values[] = {{
    {{ 3550, 3599, L"3.13" }},
    {{ 3600, 3649, L"3.14" }},
    {{ 3650, 3699, L"3.15" }},
    {{ 0 }}
}};
"""

BUG_YML = """\
  - type: dropdown
    attributes:
      label: "CPython versions tested on:"
      multiple: true
      options:
        - "3.13"
        - "3.14"
        - "3.15"
        - "CPython main branch"
"""

MAGIC_H = """\
/*
    Python 3.14rc3 3627 (Fix miscompilation of some module-level annotations)
    Python 3.15a0 3650 (Initial version)
    Python 3.15a1 3651 (Simplify LOAD_CONST)
    Python 3.15a1 3652 (Replace DUP_TOP with COPY and
                        ROT_TWO with SWAP)


    Python 3.16 will start with 3700

    Please don't copy-paste the same pre-release tag for new entries above!!!
*/

#define PYC_MAGIC_NUMBER 3652
"""

TEST_UTIL = """\
class MagicNumberTests(unittest.TestCase):
    # The magic number is frozen from the release candidate on.
    EXPECTED_MAGIC_NUMBER = {expected}
"""


def whatsnew_page(xy: str, previous: str) -> str:
    """The shape of a What's New page in its first months (title, editor, maintainers' comment, note)."""
    title = f"What's new in Python {xy}"
    bar = "*" * (len(title) + 3)
    return f"""
{bar}
  {title}
{bar}

:Editor: Some Editor

.. Rules for maintenance:

   * Anyone can add text to this document; keep it short, it will be
   edited anyway.

   * The issue number helps (Contributed by P.Y. Developer in :gh:`12345`.)

This article explains the new features in Python {xy}, compared to {previous}.

Summary --- release highlights
==============================

New modules
===========

* :mod:`!spam`
"""


def build_tree(root: Path, version: str, suffix: str = "", *, pep: str = "790",
               expected_magic: int = 3652) -> Path:
    """Write a CPython-shaped tree at `version` (+`suffix`) under `root` and return root."""
    x, y, *_ = _split(version)
    xy, nodot = f"{x}.{y}", f"{x}{y}"
    files = {
        "Include/patchlevel.h": patchlevel_h(version, suffix),
        "README.rst": readme_rst(version, suffix, pep),
        "Doc/library/spam.rst": DOC_LIBRARY,
        "Doc/library/plain.rst": "Nothing to see here.\n",
        "Doc/build/html/_sources/spam.rst": ".. versionadded:: next\n",
        "Doc/venv/lib/site-packages/pkg/README.rst": ".. versionadded:: next\n",
        "Doc/whatsnew/index.rst": WHATSNEW_INDEX.format(y1=xy, y0=f"{x}.{y - 1}"),
        f"Doc/whatsnew/{xy}.rst": whatsnew_page(xy, f"{x}.{y - 1}"),
        "Doc/deprecations/pending-removal-in-3.15.rst": "Pending removal in Python 3.15\n",
        f"Doc/deprecations/pending-removal-in-{x}.{y + 1}.rst": f"Pending removal in Python {x}.{y + 1}\n",
        f"Doc/deprecations/pending-removal-in-{x}.{y + 3}.rst": f"Pending removal in Python {x}.{y + 3}\n",
        "Doc/deprecations/pending-removal-in-future.rst": "Pending removal in future versions\n",
        "Doc/deprecations/index.rst": "Deprecations\n",
        "Doc/tutorial/interpreter.rst": INTERPRETER_RST.format(xy=xy),
        "Doc/tutorial/stdlib.rst": STDLIB_RST.format(nodot=nodot),
        "Misc/NEWS.d/next/Library/2025-01-01-00-00-00.gh-issue-1.abc.rst": ".. versionadded:: next\n",
        "configure.ac": CONFIGURE_AC.format(xy=xy),
        "PC/pyconfig.h.in": PYCONFIG_H_IN.format(nodot=nodot),
        "PC/launcher.c": LAUNCHER_C.format(),
        ".github/ISSUE_TEMPLATE/bug.yml": BUG_YML,
        "Include/internal/pycore_magic_number.h": MAGIC_H,
        "Lib/test/test_importlib/test_util.py": TEST_UTIL.format(expected=expected_magic),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "Doc/.git").mkdir(parents=True, exist_ok=True)
    (root / "Doc/.git/stray.rst").write_text(".. versionadded:: next\n", encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root, relative path → text (to prove what was and was not touched)."""
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}
