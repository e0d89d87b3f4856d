"""`python -m simulator`: a port it cannot use, or any other bad argument, is one line on stderr and exit 2, never a traceback.

The operator starting the simulator for `func start` (README, mode 2) sees what is wrong with the
value they typed, the way argparse reports any other usage error.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.command import clean_environment, run_module

REPO_ROOT = Path(__file__).resolve().parent.parent
USAGE_ERROR = 2


def run_simulator(*args: str) -> subprocess.CompletedProcess[str]:
    """The simulator as an operator starts it, expected to stop on its own."""
    return run_module("simulator", *args, timeout=60)


def assert_one_line_usage_error(completed: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert completed.returncode == USAGE_ERROR, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("python -m simulator: error: ")
    for text in expected:
        assert text in lines[0]
    assert completed.stdout == "", "nothing may suggest the simulator is running"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_given_a_busy_port_when_started_then_one_line_names_the_port_and_the_cause(busy_port: int) -> None:
    completed = run_simulator("--port", str(busy_port))
    assert_one_line_usage_error(completed, f"cannot listen on 127.0.0.1:{busy_port}", "in use")


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        ("70000", "70000 is outside 0-65535"),
        ("-1", "-1 is outside 0-65535"),
        ("abc", "'abc' is not a port number"),
        ("8_010", "'8_010' is not a port number"),
        ("+8010", "'+8010' is not a port number"),
        (" 8010", "' 8010' is not a port number"),
        ("\uff18\uff10\uff11\uff10", "is not a port number"),
    ],
)
def test_given_an_invalid_port_when_started_then_one_line_says_why(port: str, reason: str) -> None:
    completed = run_simulator(f"--port={port}")
    assert_one_line_usage_error(completed, "argument --port", reason)


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ("--rate=0", "'0' is not above 0"),
        ("--rate=-5", "'-5' is not above 0"),
        ("--rate=nan", "'nan' is not a finite number"),
        ("--rate=inf", "'inf' is not a finite number"),
        ("--rate=fast", "'fast' is not a number"),
        ("--latency-ms=-1", "'-1' is below 0"),
        ("--latency-ms=nan", "'nan' is not a finite number"),
        ("--organizer=alice@contoso.example", "'alice@contoso.example' is not a GUID"),
        ("--deny=", "'' is not a GUID"),
        ("--tenant-id=contoso", "'contoso' is not a GUID"),
        ("--client-id=", "'' is not a GUID"),
        ("--mailbox-concurrency=0", "'0' is not 1 or more"),
        ("--mailbox-concurrency=4.5", "'4.5' is not a whole number"),
        ("--latency-p99-ms=-1", "'-1' is below 0"),
        ("--rate=\u0664\u0660", "is not a number"),
        ("--rate=1_000", "'1_000' is not a number"),
        ("--latency-ms= 100", "' 100' is not a number"),
        ("--mailbox-concurrency=\uff14", "is not a whole number"),
        ("--mailbox-concurrency=+4", "'+4' is not a whole number"),
    ],
)
def test_given_a_bad_value_when_started_then_one_line_names_the_argument_and_why(argument: str, reason: str) -> None:
    completed = run_simulator(argument)
    assert_one_line_usage_error(completed, f"argument {argument.split('=', 1)[0]}", reason)


def test_given_a_p99_below_the_median_when_started_then_one_line_says_so() -> None:
    completed = run_simulator("--latency-ms=200", "--latency-p99-ms=100")
    assert_one_line_usage_error(completed, "argument --latency-p99-ms", "100 is below --latency-ms 200")


def test_given_a_free_port_when_started_then_it_prints_the_settings_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("GRAPH_BASE_URL=http://127.0.0.1:")
        port = int(first.strip().rsplit(":", 1)[1].split("/", 1)[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--rate", "0"],
        ["--rate", "-1"],
        ["--rate", "nan"],
        ["--latency-ms", "-5"],
        ["--latency-ms", "nan"],
        ["--latency-ms", "inf"],
    ],
    ids=" ".join,
)
def test_the_simulator_answers_every_bad_number_with_argparses_clean_error(arguments: list[str]) -> None:
    """`python -m simulator` answers a rate that is not a positive number and a latency that is not a finite number
    of 0 or more with argparse's usage error (exit status 2), before it serves anything."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", *arguments],
        cwd=REPO_ROOT,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()  # GRAPH_BASE_URL=... once it serves; "" when it stopped
    if first_line:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert not first_line, f"{' '.join(arguments)} was accepted: the simulator started ({first_line.strip()})"
    assert "Traceback" not in stderr, stderr
    assert process.returncode == 2
    assert stderr.startswith("python -m simulator: error: argument "), stderr


def test_the_simulators_port_is_refused_in_digits_of_other_scripts() -> None:
    """A port is ASCII digits: full-width and Arabic-Indic digits, which int() reads as 8010, are refused."""
    from simulator.__main__ import port_number

    for text in ("\uff18\uff10\uff11\uff10", "\u0668\u0660\u0661\u0660"):
        with pytest.raises(Exception):  # noqa: B017 - argparse.ArgumentTypeError, whatever the wording
            port_number(text)


def test_the_simulators_help_ends_with_examples() -> None:
    """README: each command's --help ends with examples, `python -m simulator --help` too."""
    completed = run_simulator("--help")

    assert completed.returncode == 0
    assert "\nexamples:\n  python -m simulator" in completed.stdout, completed.stdout[-300:]


def test_ctrl_c_while_the_simulator_starts_stops_cleanly() -> None:
    """Ctrl-C at any moment stops `python -m simulator` without a traceback, also while its modules load. The
    interrupt is raised where it can arrive: on importing simulator.graph_simulator."""
    launcher = textwrap.dedent(
        """
        import runpy, sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "simulator.graph_simulator":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["simulator", "--port", "0"]
        runpy.run_module("simulator", run_name="__main__", alter_sys=True)
        """
    )

    completed = subprocess.run(
        [sys.executable, "-c", launcher], cwd=REPO_ROOT, env=clean_environment(), capture_output=True, text=True, timeout=60
    )

    assert "Traceback" not in completed.stderr, completed.stderr[-500:]
