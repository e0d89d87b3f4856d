"""The benchmark's child processes, run by hand: what they cannot run is argparse's usage error, never a traceback.

bench.run starts them with a side or a JSON of parameters; a person who runs one directly with a typo is told what
it takes, with exit status 2, before anything is measured.
"""

from __future__ import annotations

import pytest

from tests.cli.command import run_module

USAGE_ERROR = 2


@pytest.mark.parametrize("arguments", [["ourz"], [], ["ours", "floor"]], ids=lambda arguments: " ".join(arguments) or "none")
def test_given_no_side_it_knows_when_cold_start_runs_then_argparse_names_the_sides(arguments: list[str]) -> None:
    completed = run_module("bench.cold_start", *arguments)

    assert completed.returncode == USAGE_ERROR, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.stderr.startswith("usage: python -m bench.cold_start [-h] {ours,floor}"), completed.stderr
    assert completed.stdout == "", "nothing may look like a measurement"


@pytest.mark.parametrize(
    "params",
    [
        "messages=200",
        "[200, 50, 100]",
        '{"messages": 200, "warmup": 50}',
        '{"messages": 200, "warmup": 50, "block": 100, "rounds": 2}',
        '{"messages": 0, "warmup": 50, "block": 100}',
        '{"messages": 200, "warmup": -1, "block": 100}',
        '{"messages": 200, "warmup": 50, "block": 0}',
        '{"messages": 200.5, "warmup": 50, "block": 100}',
        '{"messages": true, "warmup": 50, "block": 100}',
    ],
)
def test_given_parameters_it_cannot_run_when_measure_runs_then_argparse_says_what_it_takes(params: str) -> None:
    completed = run_module("bench.measure", params)

    assert completed.returncode == USAGE_ERROR, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.stderr.splitlines()[-1] == (
        f"python -m bench.measure: error: argument PARAMS_JSON: {params!r} is not "
        '{"messages": 1 or more, "warmup": 0 or more, "block": 1 or more} in JSON'
    )
    assert completed.stdout == "", "nothing may look like a measurement"


@pytest.mark.parametrize("module", ["bench.cold_start", "bench.measure"])
def test_every_runnable_module_answers_help_without_a_traceback(module: str) -> None:
    """Every module a person can run with -m answers --help without a traceback, the benchmarks' too (bench/ is in
    the README's table of folders)."""
    completed = run_module(module, "--help")

    assert "Traceback" not in completed.stderr, completed.stderr[-300:]
