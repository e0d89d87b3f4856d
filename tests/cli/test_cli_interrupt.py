"""Ctrl-C stops a command in one line that says what was done, never with a traceback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridgectl.exit_codes import EXIT_INTERRUPTED
from shared.settings import DEFAULT_BOOKINGS_QUEUE
from tests.bookings import REPO_ROOT, booking
from tests.cli.fakes import Broker, FakeSender, run

BOOKINGS = 2000


def run_interrupted(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command in this process; a Ctrl-C it lets through fails the test instead of stopping the test run."""
    try:
        return run(capsys, *argv)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C went through the command: a person would see a traceback")


def test_ctrl_c_during_simulate_stops_cleanly_with_a_count_of_what_was_done(tmp_path: Path) -> None:
    inputs = tmp_path / "many.jsonl"
    inputs.write_text("".join(json.dumps(booking(recordId=f"BK-{n}")) + "\n" for n in range(BOOKINGS)))
    printed = tmp_path / "stdout.txt"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("IDENTITY_", "MSI_", "AZURE_"))}

    with printed.open("w") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridgectl", "simulate", str(inputs)],
            cwd=REPO_ROOT,
            env=environment,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        # The first progress line: the run is under way, with nine tenths of it still to go.
        first_progress = process.stderr.readline()
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        process.wait(timeout=60)

    assert first_progress == f"progress {BOOKINGS // 10}/{BOOKINGS}\n"
    assert process.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in rest
    last = rest.splitlines()[-1]
    counted = re.fullmatch(
        rf"interrupted: (\d+) of {BOOKINGS} message\(s\) run \((\d+) answered, 0 left for redelivery\); "
        r"the other (\d+) were not run",
        last,
    )
    assert counted, last
    run_, answered, not_run = (int(number) for number in counted.groups())
    assert run_ == answered == len(printed.read_text().splitlines())
    assert BOOKINGS // 10 <= run_ < BOOKINGS and run_ + not_run == BOOKINGS


def test_ctrl_c_during_send_says_how_many_were_sent(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps(booking(recordId=f"BK-{n}", subject="x" * 200)) for n in range(6)))
    broker.batch_limit = 2500
    send_batch = FakeSender.send_messages

    def interrupted_at_the_second_batch(sender: FakeSender, message: object) -> None:
        if broker.batches:
            raise KeyboardInterrupt
        send_batch(sender, message)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeSender, "send_messages", interrupted_at_the_second_batch)

    code, out, err = run_interrupted(capsys, "send", str(tmp_path / "many.jsonl"))

    assert code == EXIT_INTERRUPTED
    [first_batch] = broker.batches
    assert len(broker.sent[DEFAULT_BOOKINGS_QUEUE]) == len(out.splitlines()) == first_batch
    assert err == (
        f"interrupted: {first_batch} of 6 message(s) were sent; sending the same inputs again is safe (same message ids, "
        "and createOrGet returns the meeting already made)\n"
    )


def test_ctrl_c_during_any_other_command_is_one_line(
    results: Broker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bridgectl.queues.results.peek_all", interrupted)

    code, out, err = run_interrupted(capsys, "results")

    assert (code, out) == (EXIT_INTERRUPTED, "")
    assert err == "interrupted: stopped before the command finished; the lines above are what it did\n"
