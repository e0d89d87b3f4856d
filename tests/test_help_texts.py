"""--help as a newcomer meets it: each command prints its own usage, ends with examples of itself, and does nothing else."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bridgectl.cli import build_parser
from bridgectl.schemas import SCHEMA_DIR
from tests.bookings import REPO_ROOT
from tests.cli.command import run_cli


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command line a person can ask --help of: the top level, each command, each dlq action."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _commands(subparser, (*path, name))


def _schema_times() -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in SCHEMA_DIR.iterdir()}


@pytest.mark.parametrize("command", list(_commands(build_parser())), ids=lambda command: " ".join(command) or "bridgectl")
def test_every_bridgectl_command_ends_its_help_with_examples_of_itself(command: tuple[str, ...]) -> None:
    completed = run_cli(*command, "--help")

    assert (completed.returncode, completed.stderr) == (0, "")
    invocation = " ".join(("python -m bridgectl", *command))
    assert completed.stdout.startswith(f"usage: {invocation} ")
    _, examples = completed.stdout.split("\nexamples:\n")
    lines = examples.splitlines()
    assert lines, "no examples"
    assert all(invocation in line for line in lines), lines


def test_schemas_help_prints_help_and_writes_nothing() -> None:
    before = _schema_times()

    completed = subprocess.run(
        [sys.executable, "-m", "bridgectl.schemas", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.startswith("usage: python -m bridgectl.schemas [-h]")
    assert "\nexamples:\n  python -m bridgectl.schemas\n" in completed.stdout
    assert "wrote" not in completed.stdout
    assert _schema_times() == before


def test_schemas_refuses_an_argument_it_does_not_know_and_writes_nothing() -> None:
    before = _schema_times()

    completed = subprocess.run(
        [sys.executable, "-m", "bridgectl.schemas", "--check"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr.splitlines()[-1] == "python -m bridgectl.schemas: error: unrecognized arguments: --check"
    assert _schema_times() == before


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_package_script_prints_its_own_usage(flag: str) -> None:
    completed = subprocess.run(["bash", "infra/package.sh", flag], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.startswith("Usage: infra/package.sh OUTPUT.zip\n")
    assert "\nExamples:\n  infra/package.sh /tmp/bookingbridge.zip\n" in completed.stdout
    assert "dirname" not in completed.stdout


@pytest.mark.parametrize("arguments", [[], ["-o.zip"], ["a.zip", "b.zip"]], ids=["none", "an option it lacks", "two"])
def test_package_script_answers_wrong_arguments_with_its_usage(arguments: list[str]) -> None:
    completed = subprocess.run(
        ["bash", "infra/package.sh", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr.startswith("Usage: infra/package.sh OUTPUT.zip\n")
    assert "dirname" not in completed.stderr


def test_deploy_script_prints_its_own_usage() -> None:
    completed = subprocess.run(["bash", "infra/deploy.sh", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.startswith("Usage: infra/deploy.sh --resource-group NAME [options]\n")
