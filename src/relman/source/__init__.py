"""Source preparation: version bumps of a CPython-shaped checkout or a plain Python package.

Pure functions on files (no git, no network). See docs/bump.md.
"""

from .bump import (
    bump_generic,
    bump_version,
    plan_release_bump,
    plan_version,
    prepare_new_main,
    replace_doc_next,
)
from .docnext import DIRECTIVES, plan_doc_next, replace_next
from .edits import EditSet, Note, write_atomic
from .generic import VersionFile, default_version_files, plan_generic
from .magic import MagicCheck, check_magic_number
from .newmain import CPYTHON_NEW_MAIN_RULES, plan_new_main, whatsnew_skeleton
from .patchlevel import render_constants
from .rules import FunctionRule, InsertLineRule, ReplaceRule

__all__ = [
    "CPYTHON_NEW_MAIN_RULES", "DIRECTIVES", "EditSet", "FunctionRule", "InsertLineRule", "MagicCheck", "Note",
    "ReplaceRule", "VersionFile", "bump_generic", "bump_version", "check_magic_number", "default_version_files",
    "plan_doc_next", "plan_generic", "plan_new_main", "plan_release_bump", "plan_version", "prepare_new_main",
    "render_constants", "replace_doc_next", "replace_next", "whatsnew_skeleton", "write_atomic",
]
