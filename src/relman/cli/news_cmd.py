"""`relman news …`: blurb-compatible news fragments (add, check, release, merge)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from ..news import api, sections
from ..news.fragments import parse_entries
from ..news.tree import find_news_dir, require_news_dir, version_names
from .common import RelmanGroup, emit_json, json_option

if TYPE_CHECKING:
    from ..vcs import Git

# Kept lean on purpose: `relman news merge` imports this module and relman.news only, so
# what only `add` and `release` need (git, editors, subprocesses) is imported where it is used.

GROUP_HELP = """News entries, the blurb way: one small file per change, merged at release time.

\b
A drop-in for blurb 2.3.0 on CPython-shaped checkouts: same files, same sections, and
`release` and `merge` write byte-identical output, much faster. Unlike blurb, `check`
reports every problem at once (file:line: message), fragments in unknown folders are
reported rather than ignored, `merge` never prompts and `release` refuses to overwrite.

\b
  relman news add -i 135000 -s Library -t "Fix :func:`os.path.join` for ..."
  relman news check                       validate every fragment and version file
  relman news release 3.14.0b2            next/ fragments → Misc/NEWS.d/3.14.0b2.rst
  relman news merge                       everything → Misc/NEWS

The news folder is found by walking up from the current directory to Misc/NEWS.d;
`--news-dir PATH` names it explicitly (no CPython checks are needed).
"""


def _news_dir_option(func):
    return click.option("--news-dir", type=click.Path(path_type=Path, file_okay=False),
                        help="The Misc/NEWS.d folder (default: found from the current directory).")(func)


def _resolve(news_dir: Path | None) -> Path:
    """--news-dir, else the folder relman.toml names ([news] dir), else Misc/NEWS.d found upwards."""
    if news_dir is not None:
        return require_news_dir(news_dir)
    from ..configfile import configured_news_dir

    configured = configured_news_dir(Path.cwd())
    return require_news_dir(configured) if configured is not None else find_news_dir()


def _sections() -> tuple[str, ...]:
    """The sections of the blurb version relman.toml names (`[news] blurb_version`; default 2.3.0)."""
    from ..configfile import configured_news_setting

    wanted = configured_news_setting(Path.cwd(), "blurb_version")
    try:
        return sections.sections_for(wanted)
    except ValueError as error:
        raise UsageError(str(error), where="relman.toml [news] blurb_version",
                         hint='for example blurb_version = "2.3.0"') from None


def _show(path: Path | str) -> str:
    """A path as people like to read it: relative to the current directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _git_for(news_dir: Path) -> Git | None:
    """The work tree holding the news folder, or None when it is not in one."""
    import shutil

    from ..vcs import Git

    if not shutil.which("git"):
        return None
    proc = Git(news_dir).run("rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    # Run from the top: `git rm --pathspec-from-file` fails in a subfolder (git 2.39).
    return Git(Path(proc.stdout.strip()))


@click.group("news", cls=RelmanGroup, help=GROUP_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
def news_group() -> None:
    pass


# ---- add -----------------------------------------------------------------------------------

TEMPLATE = """\
# Lines starting with '#' are comments and are dropped.
# Fill in the issue, keep exactly one section line, then write one paragraph of reST.
# Do not start the text with "gh-NNN:" or "- ": merge adds the issue prefix itself.

.. gh-issue: {issue}

{sections}

# For a Security entry, the CVE identifier (uncomment the line):
{cve_line}

# Write the entry below this line.
"""


def _template(issue: str | None, section: str | None, cve: str | None) -> str:
    lines = [f"{'' if name == section else '#'}.. section: {name}" for name in sections.SECTIONS]
    cve_line = f".. cve: {cve}" if cve else "#.. cve:"
    return TEMPLATE.format(issue=issue or "", sections="\n".join(lines), cve_line=cve_line)


def _editor() -> list[str]:
    import shlex
    import shutil

    for var in ("GIT_EDITOR", "VISUAL", "EDITOR"):
        value = os.environ.get(var)
        if value:
            args = [value] if shutil.which(value) else shlex.split(value)
            if args and shutil.which(args[0]):
                return args
            raise UsageError(f"{var}={value!r} is not a command that can be run",
                             hint="set EDITOR to your editor, or pass --text")
    for fallback in ("/etc/alternatives/editor", "nano", "vi"):
        found = fallback if os.path.isabs(fallback) and os.path.exists(fallback) else shutil.which(fallback)
        if found:
            return [found]
    raise UsageError("no editor found", hint="set EDITOR, or pass the text with --text")


def _from_editor(issue: str | None, section: str | None, cve: str | None) -> tuple[str, str, str, str | None]:
    """Open the editor on the template; on a validation error say what is wrong, keep the text and
    open the editor on it again (as blurb does). Aborting keeps the text in a file and says where."""
    import subprocess
    import tempfile

    handle, temp = tempfile.mkstemp(suffix=".rst", prefix="relman-news-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(_template(issue, section, cve))
    editor = _editor()
    while True:
        subprocess.run([*editor, temp], check=False)
        text = Path(temp).read_text(encoding="utf-8")
        try:
            found = _entry_from_text(text)
        except UsageError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            click.echo("Press Enter to edit the entry again, or Ctrl-C to stop (your text is kept).", err=True)
            try:
                answer = sys.stdin.readline()
            except KeyboardInterrupt:
                answer = ""
            if not answer:
                raise UsageError(f"the entry was not saved: {error.message}",
                                 hint=f"your text is kept in {temp}; fix it and run "
                                      f"`relman news add --text - < {temp}` with --issue and --section") from None
            continue
        os.unlink(temp)
        return found


def _entry_from_text(text: str) -> tuple[str, str, str, str | None]:
    entries, problems = parse_entries(text, "<editor>", preset={}, preset_where="the template")
    if problems:
        messages = "; ".join(p.message for p in problems)
        unfilled = any("no issue" in p.message or "number ''" in p.message for p in problems)
        hint = ("fill in the issue number on the '.. gh-issue:' line (or pass --issue)" if unfilled
                else "correct the entry")
        raise UsageError(messages, hint=hint)
    if len(entries) != 1:
        raise UsageError("write exactly one entry (no '..' separator lines)")
    entry = entries[0]
    issue_value = (f"bpo-{entry.metadata['bpo']}" if "bpo" in entry.metadata and "gh-issue" not in entry.metadata
                   else entry.metadata["gh-issue"])
    return entry.metadata["section"], issue_value, entry.body, entry.metadata.get("cve")


ADD_HELP = """Write a news fragment to next/<Section>/, as `blurb add` does.

\b
Non-interactive (scripts, CI, the demo):
  relman news add -i 135000 -s Library -t "Fix a crash in :mod:`tarfile` ..."
  relman news add -i 135001 -s security -c CVE-2025-1234 -t - < text.rst
Interactive: leave out --text and your $EDITOR opens a template.

\b
Sections (case does not matter; `_` may replace spaces):
""" + "\n".join(f"  {name}" for name in sections.SECTIONS) + """

The file is named DATE.gh-issue-N.NONCE.rst; it is staged with `git add` when the
news folder is in a git work tree (unless --no-git).
"""


@news_group.command("add", help=ADD_HELP)
@click.option("-i", "--issue", help="GitHub issue: 135000, gh-135000 or its URL (bpo-NNN for old ones).")
@click.option("-s", "--section", help="Section, any case; `relman news add --help` lists them.")
@click.option("-c", "--cve", help="CVE-YYYY-NNNN (Security entries only).")
@click.option("-t", "--text", help="The entry text; '-' reads it from stdin. Without it, $EDITOR opens.")
@click.option("--edit", is_flag=True, help="Open $EDITOR even when stdin is not a terminal.")
@click.option("--no-git", is_flag=True, help="Do not `git add` the new file.")
@_news_dir_option
@json_option
def add_command(issue: str | None, section: str | None, cve: str | None, text: str | None, edit: bool,
                no_git: bool, news_dir: Path | None, as_json: bool) -> None:
    folder = _resolve(news_dir)
    if text is None:
        if not edit and not sys.stdin.isatty():
            raise UsageError("no --text given and no terminal to open an editor on",
                             hint="pass --text TEXT (or --text - to read stdin)")
        section, issue, text, cve = _from_editor(issue, section, cve)
    elif text == "-":
        text = sys.stdin.read()
    if not issue:
        raise UsageError("--issue is required with --text", hint="for example --issue 135000")
    if not section:
        raise UsageError("--section is required with --text",
                         hint="one of: " + ", ".join(sections.SECTIONS))
    path = api.write_fragment(folder, section, issue, text, cve=cve)
    staged = False
    if not no_git:
        git = _git_for(folder)
        if git is not None:
            git.run("add", "--force", "--", str(path))
            staged = True
    if as_json:
        emit_json({"path": str(path), "staged": staged})
    else:
        click.echo(f"wrote {_show(path)}" + (" (staged)" if staged else ""))


# ---- check ---------------------------------------------------------------------------------

@news_group.command("check")
@_news_dir_option
@json_option
def check_command(news_dir: Path | None, as_json: bool) -> None:
    """Validate every fragment and every version file; report every problem at once.

    \b
    Each problem is printed as `file:line: message`; the exit code is 2 when there is any.
    Beyond blurb's rules it reports fragments in unknown section folders, loose or non-.rst
    files under next/ (blurb skips them without a word) and malformed file-name dates.

    \b
      relman news check
      relman news check --news-dir ~/cpython/Misc/NEWS.d --json
    """
    folder = _resolve(news_dir)
    warnings: list = []
    problems = api.check_news(folder, sections=_sections(), warnings=warnings)
    versions = [name for name in version_names(folder) if name != "next"]
    if as_json:
        emit_json({"news_dir": str(folder), "ok": not problems, "versions": len(versions),
                   "problems": [p.as_dict() for p in problems], "warnings": [w.as_dict() for w in warnings]})
    else:
        for warning in warnings:
            click.secho(f"warning: {_show(warning.path)}:{warning.line}: {warning.message}", fg="yellow",
                        err=True)
        for problem in problems:
            click.echo(f"{_show(problem.path)}:{problem.line}: {problem.message}")
        if problems:
            click.secho(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {_show(folder)}",
                        fg="red", err=True)
        else:
            click.echo(f"{_show(folder)}: all news files are valid")
    if problems:
        click.get_current_context().exit(2)


# ---- release -------------------------------------------------------------------------------

@news_group.command("release")
@click.argument("version")
@click.option("--date", "release_date", help="Release date YYYY-MM-DD (default: today, local time).")
@click.option("--no-git", is_flag=True, help="Do not stage the new file and the removals in git.")
@_news_dir_option
@json_option
def release_command(version: str, release_date: str | None, no_git: bool, news_dir: Path | None,
                    as_json: bool) -> None:
    """Collect every next/ fragment into Misc/NEWS.d/VERSION.rst and remove them.

    \b
    Byte-identical to `blurb release VERSION`. With no fragments the version is recorded
    as having no changes. Refuses when VERSION.rst already exists, and when any fragment
    is malformed or misplaced (nothing is written then). In a git work tree the new file
    is staged and the removed fragments are staged as deleted, ready for the release commit.

    \b
      relman news release 3.14.0b2
      relman news release 3.14.0rc1 --date 2025-07-22 --json
    """
    folder = _resolve(news_dir)
    result = api.release(folder, version, date=release_date, sections=_sections())
    staged = False
    if not no_git:
        git = _git_for(folder)
        if git is not None:
            git.run("add", "--force", "--", str(result.path))
            if result.consumed:
                git.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--pathspec-from-file=-",
                        "--pathspec-file-nul", input="".join(f"{p}\0" for p in result.consumed))
            staged = True
    if as_json:
        emit_json({"path": str(result.path), "version": result.version, "entries": result.entries,
                   "no_changes": result.no_changes, "consumed": [str(p) for p in result.consumed],
                   "staged": staged})
        return
    if result.no_changes:
        click.echo(f"No fragments found: {result.version} is recorded as having no changes.")
    else:
        click.echo(f"Merged {len(result.consumed)} fragments into {_show(result.path)}.")
    click.echo(f"Removed {len(result.consumed)} fragments" + (" and staged the changes in git." if staged else "."))


# ---- merge ---------------------------------------------------------------------------------

@news_group.command("merge")
@click.argument("output", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--version-hint", help="Title the unreleased news with this version instead of 'next'.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Processes to use on a large tree: 1, or 2 and more for one worker (default: "
                   "$RELMAN_NEWS_JOBS, else 2 when 2 CPUs are usable). The output is the same.")
@_news_dir_option
@json_option
def merge_command(output: Path | None, version_hint: str | None, jobs: int | None, news_dir: Path | None,
                  as_json: bool) -> None:
    """Merge every version file and the next/ fragments into one NEWS file.

    \b
    Byte-identical to `blurb merge -f`. OUTPUT defaults to Misc/NEWS next to the news
    folder. It never prompts: the file is rewritten only when its content changes.
    Stray files under next/ (which blurb skips silently) are listed as warnings.

    On a tree of thousands of entries about half of the rendering (released versions
    not in the cache, and runs of next/ fragments) is done by one forked worker process;
    `--jobs 1` (or RELMAN_NEWS_JOBS=1) keeps it to one process.

    \b
      relman news merge
      relman news merge build/NEWS --json
      relman news merge --jobs 1 --version-hint 3.15.0a2
    """
    folder = _resolve(news_dir)
    target = output if output is not None else folder.parent / "NEWS"
    text, warnings = api.merge_text(folder, version_hint=version_hint, jobs=jobs, sections=_sections())
    written = api.write_if_changed(target, text)
    for warning in warnings:
        click.secho(f"warning: {_show(warning.path)}:{warning.line}: {warning.message}", fg="yellow", err=True)
    if as_json:
        emit_json({"output": str(target), "written": written, "bytes": len(text.encode("utf-8")),
                   "warnings": [w.as_dict() for w in warnings]})
    elif written:
        click.echo(f"wrote {_show(target)}")
    else:
        click.echo(f"{_show(target)} is already up to date")


COMMANDS = [news_group]

if __name__ == "__main__":
    # `python -m relman.cli.news_cmd merge` is the same command group on its own.
    news_group(prog_name="relman news")
