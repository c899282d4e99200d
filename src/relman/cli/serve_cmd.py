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
@click.option("--buildbot", "buildbot_url", metavar="URL", help="Buildbot master the dashboard judges.")
@click.option("--tracker", metavar="URL", help="Issue tracker for release blockers (OWNER/REPO or a URL).")
@click.option("--cycle", metavar="FILE-or-URL", help="Schedule data (python-releases.toml or release-cycle.json).")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Repository whose relman.toml [readiness] gives the dashboard's defaults.")
@click.option("--refresh", "refresh_s", type=click.FloatRange(0.5, 10.0), default=5.0, show_default=True,
              help="Seconds between two looks at Buildbot (sooner when the master reports a finished build).")
def serve(data_dir: Path, host: str, port: int, state_dir: Path | None, buildbot_url: str | None,
          tracker: str | None, cycle: str | None, repo: Path | None, refresh_s: float) -> None:
    """Serve the web app: the release status dashboard (/), runs (/runs/), downloads.

    \b
    Write access (API, gate approvals) needs an API key from the environment:
      RELMAN_SITE_API_KEYS=rm:SECRET relman serve --data site/
    and requests with `Authorization: ApiKey rm:SECRET` (or the key typed into a gate's form).

    \b
    Examples:
      relman serve --data site/ --buildbot https://buildbot.python.org/all/ --cycle python-releases.toml
      relman serve --data site/ --state ~/.local/state/relman --repo .
    """
    from ..readiness.sources import ReadinessSources
    from ..site.app import serve as serve_site
    from ..site.app import site_from_environment

    settings = None
    if repo is not None:
        from ..config import load_settings
        settings = load_settings(repo).readiness
        if settings.cycle and "://" not in settings.cycle and not Path(settings.cycle).is_absolute():
            settings = settings.model_copy(update={"cycle": str(repo / settings.cycle)})
    state = state_dir or default_state_dir()
    sources = ReadinessSources.resolve(settings, buildbot=buildbot_url, tracker=tracker, cycle=cycle, state_dir=state)
    site = site_from_environment(data_dir, state_dir=state, options={"readiness": sources, "refresh_s": refresh_s})
    click.echo(f"relman serve: http://{host}:{port}/ (data in {data_dir})", err=True)
    serve_site(site, host=host, port=port)


COMMANDS = [serve]
