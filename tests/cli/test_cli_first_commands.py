"""A newcomer's first commands: Ctrl-C while bridgectl sets up, a missing install, --help of each command module.

Each answers with one line a person can act on (or the usage and examples), never a traceback.
"""

from __future__ import annotations

import venv
from pathlib import Path

import pytest

from bridgectl import cli
from bridgectl.exit_codes import EXIT_INTERRUPTED
from tests.cli.command import run_module


def test_ctrl_c_while_bridgectl_is_still_setting_up_its_commands_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C at any moment stops cleanly, also while bridgectl builds its parser (argparse reads its message
    catalogues then, a noticeable moment into every command). The interrupt is raised where it can arrive: while
    the queue commands are added."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "add_queue_commands", interrupted)

    try:
        code = cli.main(["simulate", "samples/"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C went through `python -m bridgectl`: a person would see a traceback")
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err.startswith("interrupted: ")


def test_a_fresh_environment_without_the_requirements_says_so_in_one_line(tmp_path: Path) -> None:
    """In a fresh venv of a supported Python where `pip install -r requirements.txt` was skipped (or failed),
    `python -m bridgectl simulate samples/` says in one line what is missing and the command that installs it,
    before anything else runs."""
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"

    completed = run_module("bridgectl", "simulate", "samples/", python=str(python))

    assert "Traceback" not in completed.stderr, completed.stderr[-400:]
    assert completed.returncode == 2
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: python -m bridgectl needs the packages in requirements.txt, and pydantic, ")
    assert line.endswith(f"{python} -m pip install -r requirements.txt")


@pytest.mark.parametrize(
    ("module", "usage"),
    [("bridgectl.cli", "usage: python -m bridgectl [-h] COMMAND"), ("bridgectl.simulate", "usage: python -m bridgectl simulate")],
)
def test_the_command_line_modules_answer_help_as_their_command_does(module: str, usage: str) -> None:
    """`python -m bridgectl.cli` is `python -m bridgectl`, and `python -m bridgectl.simulate` is its simulate
    command: --help prints their usage and examples, never nothing."""
    completed = run_module(module, "--help")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(usage), completed.stdout[:200]
    assert "\nexamples:\n  python -m bridgectl" in completed.stdout
