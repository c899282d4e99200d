"""One consistent command line: the same option names for the same things in every command."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from relman.cli.main import COMMAND_MODULES, cli


def _commands() -> list[click.Command]:
    return [command for _, command in _named_commands()]


def _named_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in COMMAND_MODULES:
        command = cli.get_command(click.Context(cli), name)
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((name, command))
    return found


def test_every_command_names_the_state_folder_state():
    for command in _commands():
        for param in command.params:
            if param.name == "state_dir":
                assert "--state" in param.opts, f"{command.name}: {param.opts}"


# Commands whose output is not a report: a server, and exports in a fixed format of their own.
NO_JSON = {"serve": "runs a web server until stopped", "schedule json": "prints JSON already",
           "schedule ics": "prints an iCalendar file",
           "worker test-source": "runs on a build worker; its report is the job's output files"}


def test_every_command_takes_json():
    missing = [name for name, c in _named_commands()
               if name not in NO_JSON and not any(p.name == "as_json" for p in c.params)]
    assert not missing, f"commands without --json: {missing}"


def test_the_old_state_dir_spelling_still_works_and_is_hidden(tmp_path):
    runner = CliRunner()
    made = runner.invoke(cli, ["waive", "--builder", "AMD64 Ubuntu", "--branch", "3.14", "--why", "flaky",
                               "--until", "1d", "--who", "RM", "--state", str(tmp_path), "--json"])
    assert made.exit_code == 0, made.output
    old = runner.invoke(cli, ["waive", "--list", "--state-dir", str(tmp_path), "--json"])
    new = runner.invoke(cli, ["waive", "--list", "--state", str(tmp_path), "--json"])
    assert old.exit_code == new.exit_code == 0
    assert json.loads(old.output) == json.loads(new.output) and len(json.loads(new.output)) == 1
    assert "--state-dir" not in runner.invoke(cli, ["waive", "--help"]).output
    assert "--state-dir" not in runner.invoke(cli, ["status", "--help"]).output


def test_run_and_show_give_steps_in_one_shape(tmp_path):
    import subprocess
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "release"))
    from test_generic_profile import make_package  # noqa: PLC0415

    repo = make_package(tmp_path)
    state = str(tmp_path / "st")
    run = subprocess.run([sys.executable, "-m", "relman.cli.main", "run", "1.4.0", "--repo", str(repo), "--state",
                          state, "--no-input", "--json"], capture_output=True, text=True, timeout=300)
    shown = subprocess.run([sys.executable, "-m", "relman.cli.main", "show", str(json.loads(run.stdout)["run_id"]),
                            "--state", state, "--json"], capture_output=True, text=True, timeout=60)
    run_steps, show_steps = json.loads(run.stdout)["steps"], json.loads(shown.stdout)["steps"]
    assert isinstance(run_steps, list) and run_steps and isinstance(show_steps, list)
    assert [set(s) for s in run_steps] == [set(s) for s in show_steps]
    assert [(s["id"], s["status"]) for s in run_steps] == [(s["id"], s["status"]) for s in show_steps]


def test_plain_runs_after_the_demo_points_at_the_demo_journal(tmp_path, monkeypatch):
    """`relman demo` keeps its journal in its folder (build/demo/state): the plain `relman runs`
    finds nothing in the default state folder and names the demo's, as the demo's next lines do."""
    from relman.engine.journal import Journal

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELMAN_STATE_DIR", str(tmp_path / "default-state"))
    (tmp_path / "build" / "demo" / "state").mkdir(parents=True)
    Journal(tmp_path / "build" / "demo" / "state" / "relman.db").close()
    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 2
    assert "pass --state build/demo/state" in result.output


def test_bump_notes_print_as_sentences():
    """What the new-main step logs (and `relman demo --version 3.15.0b1` shows) is a sentence."""
    from relman.source.edits import Note

    assert str(Note("Doc/whatsnew/3.16.rst", "created from the skeleton", "follow-up")) == \
        "follow-up: Doc/whatsnew/3.16.rst: created from the skeleton"
    assert str(Note("README.rst", "updated")) == "README.rst: updated"
