"""The edges of the booking contract and of the command line a newcomer meets first.

The contract: only its JSON names are fields, its patterns say the same in the bridge and in the published
JSON Schema, and every rejection is said in the contract's words. The producer examples give every valid
booking a message id. The command line (bridgectl, the simulator, infra/package.sh) answers odd input, odd
streams, odd environments and Ctrl-C with one line a person can act on, never a traceback, and escapes
what came from outside before it reaches a terminal.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Any

import pytest

from bridgectl import cli
from bridgectl.exit_codes import EXIT_INTERRUPTED
from bridgectl.inputs import read_inputs
from bridgectl.queues.dead_letters import replay_copy
from bridgectl.queues.messages import message_properties
from shared.booking import parse_booking
from shared.errors import GraphAccessDenied, GraphErrorInfo, GraphRefused, GraphUnavailable, InvalidBooking
from shared.external_id import derive_external_id
from simulator import GraphSimulator
from tests.bookings import REPO_ROOT, booking, encode
from tests.cli.command import run_cli
from tests.cli.fakes import DLQ, Broker, dead_letter, run

NODE = shutil.which("node")
PRODUCERS = REPO_ROOT / "docs" / "producers"
SAMPLE = json.loads((REPO_ROOT / "samples" / "01-new-booking.json").read_text(encoding="utf-8"))
ESC = "\x1b"


def _environment(**extra: str) -> dict[str, str]:
    inherited = {
        key: value for key, value in os.environ.items() if not key.startswith(("IDENTITY_", "MSI_", "AZURE_", "PYTHONPATH"))
    }
    return {**inherited, **extra}


def _rejected(document: dict[str, Any] | bytes) -> InvalidBooking | None:
    try:
        parse_booking(document if isinstance(document, bytes) else encode(document))
    except InvalidBooking as error:
        return error
    return None


# ---------------------------------------------------------------------------------------------------------------------
# The booking contract
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("python_name", "json_name"),
    [("record_id", "recordId"), ("organizer_id", "organizerId"), ("schema_version", "schemaVersion")],
)
def test_unknown_fields_are_refused_including_the_models_python_names(python_name: str, json_name: str) -> None:
    """contract.md: unknown fields are answered `rejected` naming the field, and the schema says
    additionalProperties false. The models' Python attribute names (record_id for recordId) are not JSON names
    of the contract: a booking spelling a field that way is refused, as the published schema refuses it."""
    document = booking()
    document[python_name] = document.pop(json_name)

    error = _rejected(document)

    assert error is not None, f"a booking with {python_name!r} instead of {json_name!r} was accepted"
    assert any(problem.field == python_name for problem in error.problems)


def test_a_nested_field_spelt_as_the_models_python_name_is_refused() -> None:
    """The same for the nested objects: an attendee's user_id, a channel's thread_id."""
    attendee = {"upn": "ada@contoso.com", "user_id": "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"}
    channel = {"thread_id": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"}

    error = _rejected(booking(attendees=[attendee], channel=channel))

    assert error is not None
    assert {"attendees.0.user_id", "channel.thread_id"} <= {problem.field for problem in error.problems}


@pytest.mark.parametrize(
    "upn",
    ["ada\x00@contoso.com", f"ada{ESC}[31m@contoso.com", "ada\x7f@contoso.com", "ada@contoso.com\x08\x08\x08evil.com"],
    ids=["NUL", "ESC", "DEL", "backspaces"],
)
def test_an_attendee_upn_with_control_characters_is_rejected_naming_the_field(upn: str) -> None:
    """A upn is name@domain without white space or control characters: NUL, ESC, DEL and backspaces never reach
    Graph (or, in calendar mode, Exchange as an invitee's address); the booking is `rejected` naming
    attendees.0.upn."""
    error = _rejected(booking(attendees=[{"upn": upn}]))

    assert error is not None, f"upn {upn!r} was accepted"
    assert [problem.field for problem in error.problems] == ["attendees.0.upn"]


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_bridge_accepts_an_upn_only_when_the_published_schema_pattern_does() -> None:
    """The published patterns are ECMA-262's (JSON Schema's), and the bridge checks the same with Python's re. For
    white space the two engines differ (ECMA's \\s has U+FEFF, Python's has U+001C and U+0085), so the upn's
    pattern names its characters. Checked with Node's RegExp, the ECMA-262 engine, with the u flag JSON Schema
    validators use."""
    schema = json.loads((REPO_ROOT / "schemas" / "booking.v1.schema.json").read_text(encoding="utf-8"))
    pattern = schema["$defs"]["Attendee"]["properties"]["upn"]["pattern"]
    values = [
        "ada\ufeff@contoso.com",
        "ada\x1c@contoso.com",
        "ada\x85@contoso.com",
        "ada\u00a0@contoso.com",
        "ada\u2028@contoso.com",
        "ada\u200b@contoso.com",
        "ada\t@contoso.com",
        "a@b@c",
        "ådå@例え.jp",
        "ada@contoso.com",
    ]
    script = (
        "const [p, vs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(vs.map(v => new RegExp(p, 'u').test(v))));"
    )

    completed = subprocess.run(
        [str(NODE), "-e", script], input=json.dumps([pattern, values]), capture_output=True, text=True, timeout=60, check=True
    )

    schema_accepts = json.loads(completed.stdout)
    bridge_accepts = [_rejected(booking(attendees=[{"upn": value}])) is None for value in values]
    assert dict(zip(map(ascii, values), bridge_accepts, strict=True)) == dict(
        zip(map(ascii, values), schema_accepts, strict=True)
    )
    assert schema_accepts[-2:] == [True, True]


@pytest.mark.parametrize(
    ("field", "digits", "reason"),
    [
        ("revision", "9" * 5000, "must be at most 9223372036854775807"),
        ("revision", "-" + "9" * 5000, "must be at least 0"),
        ("schemaVersion", "1" + "0" * 5000, "is larger than any value this field takes"),
    ],
    ids=["revision", "negative revision", "schemaVersion"],
)
def test_a_json_integer_too_long_for_python_is_rejected_in_the_contracts_words(field: str, digits: str, reason: str) -> None:
    """An integer of thousands of digits is valid JSON (Python alone refuses to convert it): the booking is
    `rejected` for the field it is in, in the contract's words, never "not JSON" nor Python's advice to call
    sys.set_int_max_str_digits."""
    document = booking()
    document[field] = 0
    body = encode(document).replace(f'"{field}": 0'.encode(), f'"{field}": {digits}'.encode())

    error = _rejected(body)

    assert error is not None
    assert error.code == "invalid_booking"
    assert [(problem.field, problem.reason) for problem in error.problems] == [(field, reason)]


# ---------------------------------------------------------------------------------------------------------------------
# The producer examples
# ---------------------------------------------------------------------------------------------------------------------


def _python_producer() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("booking_producer_edges", PRODUCERS / "booking_producer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


UNREVISIONED = {key: value for key, value in SAMPLE.items() if key != "revision"}


def test_the_python_producer_example_sends_a_valid_booking_without_revision() -> None:
    """contract.md: `revision` is optional. The Python example sends such a booking too, with a message id that is
    the same when the same booking is sent again and differs for another booking of the record."""
    assert parse_booking(json.dumps(UNREVISIONED).encode()).revision is None  # the bridge accepts it
    producer = _python_producer()

    message = producer.booking_message(UNREVISIONED)

    assert message.session_id == derive_external_id(UNREVISIONED["source"], UNREVISIONED["recordId"])
    assert message.message_id == producer.booking_message(dict(UNREVISIONED)).message_id
    assert message.message_id != producer.booking_message({**UNREVISIONED, "subject": "Moved"}).message_id
    assert message.message_id.startswith(f"{message.session_id}:") and "None" not in message.message_id


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_node_producer_example_gives_a_booking_without_revision_a_real_message_id() -> None:
    """The same in Node.js: a booking without `revision` gets a message id of its own, the same one the Python
    example gives the same body."""
    script = f"""
import {{ bookingMessage }} from {json.dumps((PRODUCERS / "booking-producer.mjs").as_uri())};
const booking = {json.dumps(UNREVISIONED)};
console.log(JSON.stringify([bookingMessage(booking), bookingMessage({{ ...booking, subject: "Moved" }})].map(m => m.messageId)));
"""
    completed = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )

    first, moved = json.loads(completed.stdout)
    assert "undefined" not in first and first != moved
    body = json.dumps(UNREVISIONED, separators=(",", ":"), ensure_ascii=False).encode()
    session_id = derive_external_id(UNREVISIONED["source"], UNREVISIONED["recordId"])
    assert first == _python_producer().message_id(session_id, UNREVISIONED, body)


# ---------------------------------------------------------------------------------------------------------------------
# bridgectl's arguments and a dead letter's properties
# ---------------------------------------------------------------------------------------------------------------------


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


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    from bridgectl.queues import connection
    from tests.cli.fakes import NAMESPACE, QUEUE_SETTINGS, FakeClient

    for name in QUEUE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", NAMESPACE)
    fake = Broker()
    monkeypatch.setattr(connection, "build_service_bus_client", lambda target, credential: FakeClient(fake))
    monkeypatch.setattr("azure.identity.DefaultAzureCredential.get_token", lambda *a, **k: pytest.fail("real token"))
    return fake


# ---------------------------------------------------------------------------------------------------------------------
# What bridgectl reads: stdin as it comes, files of the other kind, and names from outside on a terminal
# ---------------------------------------------------------------------------------------------------------------------


def test_simulate_reads_stdin_that_is_not_utf8_as_a_message_the_bridge_rejects() -> None:
    """Stdin is read as bytes: a line that is not UTF-8 is answered `rejected` / invalid_encoding, as the same
    line in a file is, and the other lines run."""
    completed = subprocess.run(
        [sys.executable, "-m", "bridgectl", "simulate", "-"],
        cwd=REPO_ROOT,
        env=_environment(),
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
        env=_environment(),
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


# ---------------------------------------------------------------------------------------------------------------------
# A newcomer's first commands: Ctrl-C, a missing install, --help
# ---------------------------------------------------------------------------------------------------------------------


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

    completed = subprocess.run(
        [str(python), "-m", "bridgectl", "simulate", "samples/"],
        cwd=REPO_ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )

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
    completed = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(usage), completed.stdout[:200]
    assert "\nexamples:\n  python -m bridgectl" in completed.stdout


# ---------------------------------------------------------------------------------------------------------------------
# infra/package.sh's output, and endpoints that do not answer
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output", ["{tmp}/", "{tmp}", "", "{tmp}/missing/bridge.zip"], ids=["folder/", "folder", "empty", "no folder"]
)
def test_package_script_refuses_an_output_it_cannot_write_before_building(tmp_path: Path, output: str) -> None:
    """infra/package.sh takes a file to write, in a folder that exists: anything else is a usage error (exit status 2)
    before anything is built, never rm's or cd's own error after the whole package was compiled."""
    completed = subprocess.run(
        ["bash", "infra/package.sh", output.format(tmp=tmp_path)],
        cwd=REPO_ROOT,
        env=_environment(PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("package.sh: "), completed.stderr
    assert "rm: " not in completed.stderr and "cd: " not in completed.stderr
    assert "no bytecode" not in completed.stderr  # stopped before building


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_identity_endpoint_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """`simulate --graph-url` with an IDENTITY_ENDPOINT nobody listens on says the endpoint could not be reached, in
    words: not urllib3's class repr ("HTTPConnection(host=...)") and Python's errno."""
    from bridgectl.inputs import BookingInput
    from bridgectl.simulate import SimulationSetupError, run_simulation

    port = _closed_port()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "x")

    with pytest.raises(SimulationSetupError) as raised:
        run_simulation(
            [BookingInput("b.json", encode(booking()))],
            graph_url=f"http://127.0.0.1:{port}/v1.0",
            out=io.StringIO(),
            err=io.StringIO(),
        )

    said = str(raised.value)
    assert "HTTPConnection(" not in said and "[Errno" not in said, said
    assert said.startswith(
        "IDENTITY_ENDPOINT issued no Graph token: could not connect to it (refused, not resolved or timed out connecting)."
    )


def test_a_graph_that_does_not_answer_is_said_in_words_not_as_python_none(
    sim: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`simulate --graph-url` against a Graph that refuses connections says what happened in the transport's own
    sentence, with no status, code or request-id that does not exist (never Python's None)."""
    from bridgectl.inputs import BookingInput
    from bridgectl.simulate import run_simulation

    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)
    out, err = io.StringIO(), io.StringIO()

    run_simulation(
        [BookingInput("b.json", encode(booking()))],
        graph_url=f"http://127.0.0.1:{_closed_port()}/v1.0",
        out=out,
        err=err,
    )

    [line] = [line for line in out.getvalue().splitlines() if line.startswith("redeliver")]
    assert line == (
        "redeliver  b.json: Graph call failed after 6 attempt(s): could not connect to Graph (refused, not resolved or "
        "timed out connecting)"
    )


@pytest.mark.parametrize("request_id", ["0d1c2b3a-4f5e-6d7c-8b9a-0f1e2d3c4b5a", None])
def test_graph_errors_name_a_request_id_only_when_graph_sent_one(request_id: str | None) -> None:
    """A raised Graph error (it reaches the host's log) names Graph's status and code, and its request-id only
    when there is one."""
    info = GraphErrorInfo(503, "ServiceUnavailable", "Graph's own text, never quoted here", request_id)

    said = [str(GraphUnavailable(info, 6)), str(GraphRefused(info)), str(GraphAccessDenied(info)).split(". To fix:")[0]]

    expected = "Graph answered 503 ServiceUnavailable" + (f" (request-id {request_id})" if request_id else "")
    assert said == [f"Graph call failed after 6 attempt(s): {expected}", expected, expected]


# ---------------------------------------------------------------------------------------------------------------------
# The simulator's and the benchmarks' command lines
# ---------------------------------------------------------------------------------------------------------------------


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
        env=_environment(),
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
    completed = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"],
        cwd=REPO_ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

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
        [sys.executable, "-c", launcher], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True, timeout=60
    )

    assert "Traceback" not in completed.stderr, completed.stderr[-500:]


@pytest.mark.parametrize("module", ["bench.cold_start", "bench.measure"])
def test_every_runnable_module_answers_help_without_a_traceback(module: str) -> None:
    """Every module a person can run with -m answers --help without a traceback, the benchmarks' too (bench/ is in
    the README's table of folders)."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True, timeout=120
    )

    assert "Traceback" not in completed.stderr, completed.stderr[-300:]
