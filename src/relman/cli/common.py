"""What every command shares: JSON output, error rendering, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import click

from ..errors import STORAGE_ERRNOS, RelmanError, storage_error

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PAUSED = 0, 1, 2, 3

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


class _AliasedOption(click.Option):
    """An option whose old spellings still work but are not shown in --help."""

    def __init__(self, *args: Any, hidden_aliases: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = hidden_aliases

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = self.opts
        self.opts = [opt for opt in shown if opt not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


# `--state DIR` in every command (`--state-dir`, its old name in status and waive, still works).
state_option = click.option(
    "--state", "--state-dir", "state_dir", cls=_AliasedOption, hidden_aliases=("--state-dir",),
    type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Folder holding the journal and waivers (default: $RELMAN_STATE_DIR or ~/.local/state/relman).")


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (the `--json` contract)."""
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def steps_json(steps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The one shape of `steps` in every command's JSON: a list of step objects (id, status,
    description, phase, timing, attempts, error, outputs), in plan order."""
    return [row.as_dict() for row in steps.values()]


def want_json() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def render_error(error: RelmanError, as_json: bool) -> None:
    if as_json:
        emit_json({"error": error.message, "where": error.where, "hint": error.hint,
                   "exit_code": error.exit_code})
    click.secho(f"error: {error}", fg="red", err=True)


class RelmanGroup(click.Group):
    """A click group that turns RelmanError into a message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RelmanError as error:
            render_error(error, want_json_from(ctx))
            ctx.exit(error.exit_code)
        except OSError as error:
            if error.errno not in STORAGE_ERRNOS:
                raise  # anything else is a bug: keep its traceback
            failure = storage_error(error, error.filename or "a file")
            render_error(failure, want_json_from(ctx))
            ctx.exit(failure.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted: the run is journaled; run the same command again to resume",
                        fg="yellow", err=True)
            ctx.exit(130)


def want_json_from(ctx: click.Context) -> bool:
    # The failing subcommand's context is gone by now; look at the raw arguments instead.
    return "--json" in sys.argv[1:]
