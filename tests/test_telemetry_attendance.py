"""The attendance follow-up in the bridge's telemetry: its results counted as any result, and attendees' addresses
in the result only, never in a log line, a span or a metric.

Through create_meeting as the host calls it, with OpenTelemetry's SDK exporting to memory (tests/conftest.py)."""

from __future__ import annotations

import logging

import pytest

from shared.settings import ATTENDANCE_REPORTS_ENABLED
from shared.telemetry import OTHER_SOURCE, UNKNOWN_SOURCE
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID
from tests.conftest import HostInvoker, Telemetry
from tests.follow_ups import attendance_booking, deliver, record, scheduled
from tests.test_attendance_failures import attendance_messages, meeting_id


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")


def test_an_attendance_result_is_counted_under_its_records_source(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    """Not as a source that failed validation: the follow-up names the source its booking had."""
    host.deliver(attendance_booking())
    graph.hold_meeting(ORGANIZER_ID, host.last_result().meeting.id)
    before = telemetry.count("bridge.results", status="attendance", source=OTHER_SOURCE)

    deliver(host, scheduled(host.sent)[0])

    assert telemetry.count("bridge.results", status="attendance", source=OTHER_SOURCE) == before + 1
    assert telemetry.count("bridge.results", status="attendance", source=UNKNOWN_SOURCE) == 0


def test_attendees_addresses_reach_the_result_only(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host.deliver(attendance_booking(attendees=[]))
    graph.add_attendance_report(
        ORGANIZER_ID,
        meeting_id(host),
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record("patient-7781@clinic.example")],
    )

    deliver(host, scheduled(host.sent)[0])

    [(message, _)] = attendance_messages(host)
    assert "patient-7781@clinic.example" in str(message)
    assert "patient-7781" not in caplog.text
    attributes = [str(value) for span in telemetry.spans.get_finished_spans() for value in (span.attributes or {}).values()]
    assert attributes and not any("patient-7781" in value for value in attributes)
    data = telemetry.reader.get_metrics_data()
    assert "patient-7781" not in (data.to_json() if data else "")
