"""bridgectl answers odd arguments and odd input with one line a person can act on, and escapes what came from outside.

A wrong number is argparse's usage error saying what the option takes; a dead letter's replayCount counts on only
from ASCII digits; stdin is read as bytes, also when it is not UTF-8 or is closed; files of the other kind (pretty
JSON in a .jsonl, several objects or an array in a .json) are read with a hint; paths, fields and message ids from
outside reach the terminal escaped.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridgectl import cli
from bridgectl.inputs import read_inputs
from bridgectl.queues.dead_letters import replay_copy
from bridgectl.queues.messages import message_properties
from shared.booking import parse_booking
from tests.bookings import REPO_ROOT, booking, encode
from tests.cli.command import clean_environment, run_cli
from tests.cli.fakes import DLQ, Broker, dead_letter, run

ESC = "\x1b"


@pytest.mark.parametrize(
    "arguments",
    [
        ["results", "--wait", "abc"],
        ["results", "--wait", "inf"],
        ["results", "--wait", "nan"],
        ["results", "--wait", "1e9"],
        ["results", "--wait", "\u0665"],
        ["results", "--max", "abc"],
        ["results", "--max", "\uff18"],
        ["results", "--max", "1_000"],
        ["dlq", "replay", "--all", "--wait", "x"],
        ["dlq", "list", "--max", "0"],
    ],
    ids=" ".join,
)
def test_bridgectl_usage_errors_say_what_is_expected_without_internal_names(arguments: list[str]) -> None:
    """A wrong number is argparse's usage error, exit status 2, saying what the option takes: never the name of the
    function that read it ("invalid _seconds value"), and never a wait without end (inf) or Unicode digits read as
    ASCII ones."""
    completed = run_cli(*arguments)

    assert completed.returncode == 2, completed.stderr
    last_line = completed.stderr.splitlines()[-1]
    assert re.search(r"argument --(wait|max): must be (a whole number, 1 or more|a number of seconds from 0 to \d+)", last_line)
    assert not re.search(r"invalid _?\w+ value", last_line), last_line


def test_a_wait_of_seconds_with_a_fraction_is_taken() -> None:
    args = cli.build_parser().parse_args(["results", "--wait", "2.5", "--max", "20"])

    assert (args.wait, args.max) == (2.5, 20)


@pytest.mark.parametrize(
    ("replay_count", "replayed_as"),
    [("\u00b2", 1), ("\u0663", 1), ("\uff13", 1), ("2", 3), (5, 6), (-4, 1), (True, 1), ("", 1)],
    ids=["superscript two", "Arabic-Indic three", "full-width three", "ASCII two", "int", "negative", "bool", "empty"],
)
def test_a_replayed_dead_letter_counts_on_from_an_ascii_replay_count_only(replay_count: object, replayed_as: int) -> None:
    """A dead letter's replayCount is a property any producer can set: only a count (an integer, or ASCII digits)
    counts on; anything else starts again at 1, never raises."""
    copy = replay_copy(dead_letter(7, properties={"replayCount": replay_count}))

    assert message_properties(copy)["replayCount"] == replayed_as


def test_dlq_replay_command_with_a_superscript_replay_count_exits_cleanly(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same through the command: a dead letter whose replayCount is "²" is replayed, as its first replay."""
    broker.queues[DLQ] = [dead_letter(7, properties={"replayCount": "\u00b2"})]

    code, out, _ = run(capsys, "dlq", "replay", "--all")

    assert code == 0
    assert json.loads(out)["replayAs"]["replayCount"] == 1


def test_simulate_reads_stdin_that_is_not_utf8_as_a_message_the_bridge_rejects() -> None:
    """Stdin is read as bytes: a line that is not UTF-8 is answered `rejected` / invalid_encoding, as the same
    line in a file is, and the other lines run."""
    completed = subprocess.run(
        [sys.executable, "-m", "bridgectl", "simulate", "-"],
        cwd=REPO_ROOT,
        env=clean_environment(),
        input=encode(booking()) + b"\n\xff\xfe\n",
        capture_output=True,
        timeout=120,
    )

    stderr = completed.stderr.decode(errors="replace")
    assert b"Traceback" not in completed.stderr, stderr[-600:]
    assert completed.returncode == 0, stderr
    assert [line.split()[0] for line in completed.stdout.decode().splitlines()] == ["created", "rejected"]
    assert "invalid_encoding" in completed.stdout.decode().splitlines()[1]


def test_simulate_with_stdin_closed_says_so_without_a_traceback() -> None:
    """`python -m bridgectl simulate - <&-` (a process started without stdin, as some schedulers start one) is a
    usage error that says stdin is closed."""
    completed = subprocess.run(
        [sys.executable, "-m", "bridgectl", "simulate", "-"],
        cwd=REPO_ROOT,
        env=clean_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(0),  # the point: a process started without stdin
    )

    assert "Traceback" not in completed.stderr, completed.stderr[-600:]
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: stdin is closed"), completed.stderr


def test_a_path_that_does_not_exist_is_named_without_its_terminal_escapes() -> None:
    """A path is anyone's text (a name pasted from an export): `simulate` and `send` name a missing one with its
    control characters escaped, so an OSC sequence in it cannot retitle the terminal."""
    hostile = f"export{ESC}]0;pwned\x07.json"
    said = [run_cli(command, hostile, *extra) for command, extra in (("simulate", ()), ("send", ("--dry-run",)))]

    assert [completed.returncode for completed in said] == [2, 2]
    assert [completed.stderr for completed in said] == ["error: no such file or folder: export\\x1b]0;pwned\\x07.json\n"] * 2


def test_send_names_an_unknown_field_without_its_terminal_escapes(tmp_path: Path) -> None:
    """`send` prints each problem as `<file>: <field>: <reason>`; the field of an unknown key is the key as the
    booking spelt it, so it is escaped, as simulate escapes the same line."""
    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps(booking(**{f"{ESC}]0;pwned\x07": 1})) + "\n", encoding="utf-8")

    completed = run_cli("send", str(export), "--dry-run")

    assert completed.returncode == 1
    assert ESC not in completed.stderr and "\x07" not in completed.stderr, completed.stderr
    assert f"invalid: {export}:1: \\x1b]0;pwned\\x07: is not a field of schema version 1" in completed.stderr


def test_a_jsonl_file_of_pretty_printed_bookings_is_read_as_its_objects_with_a_hint(tmp_path: Path) -> None:
    """`jq . export.jsonl > bookings.jsonl` makes a .jsonl file of several pretty objects: each is read as one
    message, with a warning saying how to compact the file, instead of every line rejected as not JSON."""
    pretty = tmp_path / "bookings.jsonl"
    pretty.write_text("".join(json.dumps(booking(recordId=f"BK-{n}"), indent=2) + "\n" for n in range(2)), encoding="utf-8")
    lines = len(pretty.read_text(encoding="utf-8").splitlines())

    completed = run_cli("simulate", str(pretty))

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.splitlines()[0] == (
        f"warning: {pretty} holds 2 JSON objects over {lines} lines, not JSON lines (one message per line); read as 2 "
        "messages. Compact it with: jq -c ."
    )
    assert [line.split()[0] for line in completed.stdout.splitlines()] == ["created", "created"]
    assert completed.stdout.splitlines()[1].endswith(f"({pretty}:{lines // 2 + 1})")


def test_pretty_printed_bookings_on_stdin_are_read_as_their_objects_with_a_hint() -> None:
    """The same on stdin: `jq . a.json b.json | python -m bridgectl simulate -`."""
    stdin = io.BytesIO(b"".join(encode_pretty(booking(recordId=f"BK-{n}")) for n in range(2)))
    err = io.StringIO()

    inputs = read_inputs(["-"], stdin=stdin, err=err)

    assert [parse_booking(item.body).record_id for item in inputs] == ["BK-0", "BK-1"]
    assert err.getvalue().startswith("warning: stdin holds 2 JSON objects over ")


def test_a_json_file_of_several_pretty_bookings_is_read_as_its_objects_with_a_hint(tmp_path: Path) -> None:
    """A .json file holds one message; one that holds several objects one after another (`jq . a.json b.json`) is
    read as its objects, with a warning."""
    several = tmp_path / "both.json"
    several.write_bytes(b"".join(encode_pretty(booking(recordId=f"BK-{n}")) for n in range(2)))
    err = io.StringIO()

    inputs = read_inputs([str(several)], err=err)

    assert [parse_booking(item.body).record_id for item in inputs] == ["BK-0", "BK-1"]
    assert err.getvalue().startswith(f"warning: {several} holds 2 JSON objects, not one JSON message; read as 2 messages.")


def test_a_json_file_holding_a_json_array_gets_a_hint(tmp_path: Path) -> None:
    """A .json file holding an array of bookings is one message, which the bridge rejects (a booking is an object):
    a warning says so and how to make one message of each."""
    array = tmp_path / "export.json"
    array.write_text(json.dumps([booking(recordId="BK-1"), booking(recordId="BK-2")]), encoding="utf-8")

    completed = run_cli("simulate", str(array))

    warning = completed.stderr.splitlines()[0]
    assert warning.startswith(f"warning: {array} holds a JSON array, not one JSON message (an object)"), completed.stderr
    assert "jq -c '.[]'" in warning
    assert completed.stdout.startswith("rejected ")


def test_a_dead_letters_message_id_is_escaped_when_its_replay_fails(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    """A dead letter's message id is the producer's text: when its replay fails, the error names it escaped."""
    from azure.servicebus.exceptions import ServiceBusServerBusyError

    from tests.cli.fakes import DEFAULT_BOOKINGS_QUEUE

    hostile = dead_letter(7)
    hostile.message_id = f"id{ESC}]0;pwned\x07"
    broker.queues[DLQ] = [hostile]
    broker.failures[("send", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusServerBusyError(message="server busy")

    code, _, err = run(capsys, "dlq", "replay", "--all")

    assert code == 1
    assert ESC not in err and "\x07" not in err
    assert "message id\\x1b]0;pwned\\x07 (dead-letter sequence number 7) was not replayed" in err


def encode_pretty(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()
