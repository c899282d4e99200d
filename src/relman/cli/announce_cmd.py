"""`relman announce V`: the announcement drafts of a release, and sending them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ..errors import UsageError
from .common import emit_json, json_option


def _channels(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for value in values for c in value.split(",") if c.strip()]


@click.command("announce")
@click.argument("version")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="The release's repository (its relman.toml [announce] names the channels).")
@click.option("--state", "state_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the journal lives (default $RELMAN_STATE_DIR or ~/.local/state/relman).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="An extra configuration file layered over the repository's (e.g. the channels).")
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False),
              help="Write the drafts here (default: the run's work folder /announce).")
@click.option("--date", "when", metavar="YYYY-MM-DD", help="The release date to announce (default: the tag's day).")
@click.option("--channel", "channels", multiple=True, metavar="C[,C…]",
              help="email, mastodon, discourse (default: [announce] channels).")
@click.option("--send", is_flag=True, help="Send the drafts (only once the release's publishing is verified).")
@json_option
def announce_command(version: str, repo: Path, state_dir: Path | None, config_file: Path | None, output: Path | None,
                     when: str | None,
                     channels: tuple[str, ...], send: bool, as_json: bool) -> None:
    """Write the announcement drafts of release VERSION, and send them with --send.

    \b
    Drafts (always written; edit them before sending if you like — what is sent is read
    back from them): blog.md (blog / Discourse, Markdown), email.eml (the mailing-list
    email), mastodon.txt (at most 500 characters), handoff.eml (to the platform experts,
    when [announce] platform_experts is set), facts.json.
    \b
    Sending needs --send and a run of this release whose publishing was verified (step
    publish.verify). Each channel is sent once: a ledger (sent.json) next to the drafts
    records what went out. Tokens come from the environment variables named in relman.toml
    ([announce.mastodon] token_env, [announce.discourse] api_key_env).

    \b
    Examples:
      relman announce 3.14.1 --repo ~/cpython
      relman announce 3.14.1 --repo ~/cpython --send --channel email,mastodon

    \b
    Exit codes: 0 done; 1 a channel failed (the others are recorded); 2 bad input or
    publishing not verified.
    """
    try:
        day = date.fromisoformat(when) if when else None
    except ValueError:
        raise UsageError(f"--date {when!r} is not a date", hint="use YYYY-MM-DD") from None
    from ..release.announce import announce_release

    result = announce_release(version, repo, state_dir=state_dir, out=output, when=day, send=send,
                              channels=_channels(channels) or None, config_file=config_file)
    if as_json:
        emit_json(result)
        return
    click.echo(f"drafts of {result['version']} in {result['dir']}:")
    for name, path in result["drafts"].items():
        click.echo(f"  {name:<9} {path}")
    click.echo(f"  Mastodon post: {result['mastodon_length']} characters")
    for sent in result["sent"]:
        state = "already sent" if sent.get("already") else "sent"
        click.echo(f"{state} to {sent['channel']}" + (f": {sent['url']}" if sent.get("url") else ""))
    if not send:
        verified = "publishing verified" if result["publish_verified"] else "publishing not verified yet"
        click.echo(f"not sent ({verified}); send with --send")


COMMANDS = [announce_command]
