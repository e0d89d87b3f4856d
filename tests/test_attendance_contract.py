"""The booking's `attendance` field: who may ask, what it needs, and what the operator's setting decides."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bridgectl.schemas import SCHEMA_DIR
from shared.attendance import ATTENDANCE_NOT_ENABLED
from shared.booking import parse_booking
from shared.errors import InvalidBooking
from shared.result import ResultStatus
from shared.settings import ATTENDANCE_REPORTS_ENABLED, load_settings
from simulator import GraphSimulator
from tests.bookings import booking, encode
from tests.conftest import TEST_NAMESPACE, HostInvoker
from tests.follow_ups import attendance_booking, scheduled


@pytest.mark.parametrize(
    ("overrides", "valid"),
    [
        ({"attendance": {"report": True}}, True),
        ({"attendance": {"report": True}, "revision": None}, False),
        ({"attendance": {"report": False}, "revision": None}, True),
        ({"attendance": None, "revision": None}, True),
        ({"attendance": {}}, False),
        ({"attendance": {"report": "yes"}}, False),
        ({"attendance": {"report": True, "transcript": True}}, False),
    ],
    ids=["asks", "asks without revision", "does not ask", "null", "empty", "not a boolean", "unknown follow-up"],
)
def test_the_json_schema_and_the_parser_agree_on_attendance(overrides: dict[str, Any], valid: bool) -> None:
    document = {key: value for key, value in booking(**overrides).items() if value is not None or key != "revision"}
    validator = Draft202012Validator(json.loads((SCHEMA_DIR / "booking.v1.schema.json").read_text(encoding="utf-8")))
    try:
        parse_booking(encode(document))
        parsed = True
    except InvalidBooking:
        parsed = False

    assert validator.is_valid(document) is valid
    assert parsed is valid


def test_asking_for_attendance_without_a_revision_is_refused_naming_the_field() -> None:
    document = attendance_booking()
    del document["revision"]

    with pytest.raises(InvalidBooking) as refused:
        parse_booking(encode(document))

    [problem] = refused.value.problems
    assert problem.field == "attendance"
    assert problem.reason.startswith("needs revision")


def test_the_setting_is_off_unless_the_operator_turns_it_on() -> None:
    assert load_settings({"ServiceBusConnection__fullyQualifiedNamespace": TEST_NAMESPACE}).attendance_reports_enabled is False
    on = {"ServiceBusConnection__fullyQualifiedNamespace": TEST_NAMESPACE, ATTENDANCE_REPORTS_ENABLED: "true"}
    assert load_settings(on).attendance_reports_enabled is True


def test_a_booking_asking_for_attendance_while_it_is_off_is_rejected_without_calling_graph(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(attendance_booking())

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert result.error is not None and result.error.code == ATTENDANCE_NOT_ENABLED
    assert "ATTENDANCE_REPORTS_ENABLED" in result.error.message
    assert graph.graph_requests() == []
    assert scheduled(host.sent) == []


def test_a_booking_that_does_not_ask_is_booked_and_schedules_nothing(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")

    host.deliver(booking(attendance={"report": False}))

    assert host.last_result().status is ResultStatus.CREATED
    assert scheduled(host.sent) == []
