"""`relman`: the entry point. Each command lives in its own module and is registered here."""

from __future__ import annotations

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


@click.group(cls=RelmanGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relman")
def cli() -> None:
    pass


def _register() -> None:
    # Imported here so that `relman --help` stays fast and each command module stays small.
    from . import bump_cmd, demo_cmd, run_cmd, version_cmd, status_cmd, waive_cmd
    from . import news_cmd
    from . import artifacts_cmd, verify_cmd

    for module in (demo_cmd, run_cmd, version_cmd, bump_cmd, status_cmd, waive_cmd, news_cmd,
                   artifacts_cmd, verify_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="relman")
if __name__ == "__main__":
    main()
