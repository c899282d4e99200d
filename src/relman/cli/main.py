"""`relman`: the entry point. Each command lives in its own module and is registered here."""

from __future__ import annotations

import importlib

import click

from .. import __version__
from .common import RelmanGroup

HELP = """Release engineering for CPython and projects released the way CPython is.

\b
Start here:
  relman demo                 rehearse a whole release on a built-in sample project
  relman plan 3.14.0rc1 --repo ~/cpython   show every step, its effects and gates
  relman run 3.14.0rc1 --repo ~/cpython    run (or resume) the release
  relman version 3.14.0rc1    every fact derived from a version

\b
Exit codes: 0 done, 1 a step or check failed (the run stays resumable),
2 bad input or usage, 3 paused at a gate (approve it and run again).
"""


# Command name → the module defining it. Modules are imported only when their command runs
# (or for --help), so `relman news merge` does not pay for the web, HTTP or Buildbot code.
COMMAND_MODULES = {
    "demo": "demo_cmd",
    "plan": "run_cmd", "run": "run_cmd", "runs": "run_cmd", "show": "run_cmd", "report": "run_cmd",
    "abort": "run_cmd", "journal": "run_cmd",
    "version": "version_cmd",
    "bump": "bump_cmd",
    "news": "news_cmd",
    "artifacts": "artifacts_cmd",
    "verify": "verify_cmd",
    "status": "status_cmd",
    "waive": "waive_cmd",
    "schedule": "schedule_cmd",
    "announce": "announce_cmd",
    "serve": "serve_cmd",
    "worker": "worker_cmd",
}


class LazyRelmanGroup(RelmanGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(f"{__package__}.{module_name}")
        return next((c for c in module.COMMANDS if c.name == name), None)


@click.group(cls=LazyRelmanGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relman")
def cli() -> None:
    pass


def main() -> None:
    cli(prog_name="relman")
if __name__ == "__main__":
    main()
