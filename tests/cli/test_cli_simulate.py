"""`simulate` as a newcomer meets it: one line per booking, one line per mistake, never a success on nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridgectl import cli
from bridgectl.exit_codes import EXIT_OK, EXIT_USAGE
from shared.external_id import derive_external_id
from simulator import GraphSimulator
from tests.bookings import REPO_ROOT, booking
from tests.cli.command import run_cli

NEW_BOOKING = "samples/01-new-booking.json"


def test_it_prints_one_line_per_booking_unless_asked_for_json() -> None:
    table = run_cli("simulate", NEW_BOOKING)
    jsonl = run_cli("simulate", NEW_BOOKING, "--format", "jsonl")

    assert (table.returncode, jsonl.returncode) == (EXIT_OK, EXIT_OK)
    [line] = table.stdout.splitlines()
    assert line.startswith("created    crm-eu/BK-10023 ") and line.endswith(f"({NEW_BOOKING})")
    assert table.stderr == "1 message(s), 1 answered, 0 left for redelivery\n"
    [result] = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert (result["status"], result["externalId"]) == ("created", derive_external_id("crm-eu", "BK-10023"))
    assert jsonl.stderr.splitlines()[0].startswith("created    crm-eu/BK-10023 ")


def test_graph_url_without_the_identity_variables_says_what_to_export() -> None:
    completed = run_cli("simulate", NEW_BOOKING, "--graph-url", "http://127.0.0.1:8010/v1.0")

    assert completed.returncode == EXIT_USAGE
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: --graph-url needs the identity endpoint")
    assert "export IDENTITY_ENDPOINT and IDENTITY_HEADER as `python -m simulator` prints them" in line


@pytest.mark.parametrize(
    ("graph_url", "identity_endpoint", "expected"),
    [
        (
            "http://graph.example.com/v1.0",
            "http://127.0.0.1:8010/msi/token",
            "error: --graph-url must use https",
        ),
        (
            "http://10.0.0.7:8010/v1.0",
            "http://127.0.0.1:8010/msi/token",
            "error: --graph-url must use https",
        ),
        ("http://127.0.0.1:8010/beta", "http://127.0.0.1:8010/msi/token", "must end with /v1.0"),
        (
            "http://127.0.0.1:8010/v1.0",
            "http://10.0.0.7:8010/msi/token",
            "error: IDENTITY_ENDPOINT must use https",
        ),
    ],
)
def test_plain_http_is_accepted_only_on_loopback(graph_url: str, identity_endpoint: str, expected: str) -> None:
    environment = {"IDENTITY_ENDPOINT": identity_endpoint, "IDENTITY_HEADER": "x"}
    completed = run_cli("simulate", NEW_BOOKING, "--graph-url", graph_url, environment=environment)

    assert completed.returncode == EXIT_USAGE
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: ") and expected in line


def test_graph_url_reaches_a_running_simulator_with_its_printed_variables(sim: GraphSimulator) -> None:
    environment = {"IDENTITY_ENDPOINT": sim.identity_endpoint, "IDENTITY_HEADER": sim.identity_header}
    completed = run_cli("simulate", NEW_BOOKING, "--graph-url", sim.graph_base_url, environment=environment)

    assert completed.returncode == EXIT_OK, completed.stderr
    assert completed.stdout.startswith("created    crm-eu/BK-10023 ")
    assert len(sim.meetings()) == 1


def test_a_token_refused_by_the_endpoint_is_one_line_before_any_booking(sim: GraphSimulator) -> None:
    environment = {"IDENTITY_ENDPOINT": sim.identity_endpoint, "IDENTITY_HEADER": "from-an-earlier-start"}
    completed = run_cli("simulate", "samples/", "--graph-url", sim.graph_base_url, environment=environment)

    assert completed.returncode == EXIT_USAGE
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: IDENTITY_ENDPOINT issued no Graph token: ")
    assert "IDENTITY_HEADER" in line and "function app" not in line
    assert sim.graph_requests() == []


@pytest.mark.parametrize("given", ["empty folder", "folder of .txt", "empty .jsonl", "blank .json"])
def test_paths_without_bookings_are_an_error(given: str, tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    target = {
        "empty folder": folder,
        "folder of .txt": folder,
        "empty .jsonl": folder / "bookings.jsonl",
        "blank .json": folder / "booking.json",
    }[given]
    if given == "folder of .txt":
        (folder / "notes.txt").write_text(json.dumps(booking()))
    elif target != folder:
        target.write_text("\n \n")

    completed = run_cli("simulate", str(target))

    assert completed.returncode == EXIT_USAGE
    assert completed.stdout == ""
    assert completed.stderr.startswith("error: no booking messages found in the given paths")
    assert "0 message(s)" not in completed.stderr


def test_empty_stdin_is_an_error() -> None:
    completed = run_cli("simulate", "-", stdin="")
    assert completed.returncode == EXIT_USAGE
    assert completed.stderr.startswith("error: no booking messages found")


def test_one_pretty_printed_object_on_stdin_is_read_as_one_message_with_a_warning() -> None:
    pretty = (REPO_ROOT / NEW_BOOKING).read_text()
    completed = run_cli("simulate", "-", stdin=pretty)

    assert completed.returncode == EXIT_OK, completed.stderr
    warning, summary = completed.stderr.splitlines()
    assert warning.startswith(f"warning: stdin holds one JSON object over {len(pretty.strip().splitlines())} lines")
    assert "jq -c ." in warning
    assert summary == "1 message(s), 1 answered, 0 left for redelivery"
    assert completed.stdout.startswith("created    crm-eu/BK-10023 ")


def test_json_lines_on_stdin_get_no_warning() -> None:
    lines = "".join(json.dumps(booking(recordId=f"BK-{n}")) + "\n" for n in range(2))
    completed = run_cli("simulate", "-", stdin=lines)
    assert completed.returncode == EXIT_OK
    assert "warning" not in completed.stderr
    assert len(completed.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("simulate", "python -m bridgectl simulate samples/"),
        ("simulate", "cat bookings.jsonl | python -m bridgectl simulate -"),
        ("external-id", "python -m bridgectl external-id crm-eu BK-10023"),
    ],
)
def test_help_shows_examples(command: str, example: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    help_text = capsys.readouterr().out
    assert exit_.value.code == EXIT_OK
    assert "examples:\n" in help_text and f"  {example}" in help_text
