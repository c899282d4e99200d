"""`relman version V`: every fact derived from a version."""

from __future__ import annotations

import click

from ..version import Version
from .common import emit_json, json_option


@click.command("version")
@click.argument("version")
@json_option
def version_command(version: str, as_json: bool) -> None:
    """Show every property derived from VERSION (branch, tag, docs, suffixes…).

    \b
    Example:
      relman version 3.14.0rc2
      relman version 3.15.0a1 --json
    """
    facts = Version.parse(version).as_dict()
    if as_json:
        emit_json(facts)
        return
    width = max(map(len, facts))
    for key, value in facts.items():
        click.echo(f"{key:<{width}}  {value}")


COMMANDS = [version_command]
