"""`results`: peek by default, filter, and with --receive complete only what matched and was printed."""

from __future__ import annotations

import json

import pytest

from bridgectl.exit_codes import EXIT_OK
from bridgectl.queues.messages import render_table
from bridgectl.queues.results import ResultFilter, read_result
from shared.external_id import derive_external_id
from shared.settings import (
    DEFAULT_RESULTS_QUEUE,
)
from tests.cli.fakes import (
    Broker,
    ReceivedStandIn,
    run,
)


def test_peek_filters_and_touches_nothing(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "results", "--status", "failed", "--source", "crm-eu")
    assert code == EXIT_OK
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["BK-4"]
    assert results.settlements() == [] and len(results.queues[DEFAULT_RESULTS_QUEUE]) == 4
    assert "nothing was removed" in err


def test_the_table_shows_status_record_revision_external_id_and_outcome(results: Broker, capsys) -> None:
    code, out, _ = run(capsys, "results", "--format", "table", "--max", "2")
    assert code == EXIT_OK
    header, created, failed = out.splitlines()
    assert header.split() == ["STATUS", "SOURCE/RECORD", "REV", "EXTERNAL", "ID", "JOIN", "URL", "OR", "ERROR"]
    assert created.split() == ["created", "crm-eu/BK-1", "1", derive_external_id("crm-eu", "BK-1"), "https://teams.example/l/1"]
    assert failed.split()[::4] == ["failed", "NotFound"]


def test_external_id_filter_ignores_case(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "results", "--external-id", derive_external_id("lms", "C-7").upper())
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["C-7"]


def test_receive_completes_matches_and_abandons_the_rest(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "results", "--receive", "--status", "failed")
    assert code == EXIT_OK
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["C-7", "BK-4"]
    settled = {(operation, detail) for operation, _, detail in results.settlements()}
    assert settled == {("complete", "result-2"), ("complete", "result-4"), ("abandon", "result-1"), ("abandon", "result-3")}
    assert [message.message_id for message in results.queues[DEFAULT_RESULTS_QUEUE]] == ["result-1", "result-3"]
    assert "2 message(s) not chosen were abandoned" in err


def test_receive_never_completes_a_message_that_did_not_match(results: Broker, capsys) -> None:
    run(capsys, "results", "--receive", "--source", "nobody")
    assert {operation for operation, _, _ in results.settlements()} == {"abandon"}
    assert len(results.queues[DEFAULT_RESULTS_QUEUE]) == 4


def test_receive_stops_at_max_without_locking_more(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "results", "--receive", "--max", "1")
    assert [call for call in results.calls if call[0] == "receive"] == [("receive", DEFAULT_RESULTS_QUEUE, 1)]
    assert results.settlements() == [("complete", DEFAULT_RESULTS_QUEUE, "result-1")]


def test_a_body_that_is_not_a_result_still_gets_a_row() -> None:
    row = read_result(ReceivedStandIn(b"\xff not json", sequence_number=9, message_id="odd"))
    assert (row.status, row.outcome) == (None, "(not a result message)")
    assert not ResultFilter(statuses=frozenset({"failed"})).matches(row)
    assert ResultFilter().matches(row)


def test_tables_pad_columns_to_their_widest_cell() -> None:
    assert render_table(["A", "BB", "C"], [["1", "2", "3"], ["long", "x", "last"]]).splitlines() == [
        "A     BB  C",
        "1     2   3",
        "long  x   last",
    ]
