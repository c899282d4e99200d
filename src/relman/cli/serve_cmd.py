"""`relman serve`: the web app (downloads site and API, status dashboard, runs)."""

from __future__ import annotations

from pathlib import Path

import click

from ..paths import default_state_dir


@click.command("serve")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder holding the site's database and the published files (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Only loopback unless you say otherwise.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="relman state folder whose runs /runs/ shows (default: the usual state folder).")
def serve(data_dir: Path, host: str, port: int, state_dir: Path | None) -> None:
    """Serve the web app.

    \b
    Write access (API, gate approvals) needs an API key from the environment:
      RELMAN_SITE_API_KEYS=rm:SECRET relman serve --data site/
    and requests with `Authorization: ApiKey rm:SECRET`.
    """
    import uvicorn

    from ..site.app import create_app, site_from_environment

    site = site_from_environment(data_dir, state_dir=state_dir or default_state_dir())
    click.echo(f"relman serve: http://{host}:{port}/ (data in {data_dir})", err=True)
    uvicorn.run(create_app(site), host=host, port=port, log_level="warning")


COMMANDS = [serve]
