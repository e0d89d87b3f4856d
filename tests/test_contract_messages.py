"""A rejected booking says what is wrong in the contract's words: each field as docs/contract.md names it, and what
it must be; never pydantic's own text (a regular expression, a Python class name, "Input should be a valid ...")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.booking import parse_booking
from shared.errors import InvalidBooking
from shared.result import rejected_error
from tests.bookings import REPO_ROOT, booking

MISSING = object()
GUID = "must be a GUID such as 6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e (an Entra object id, not a UPN)"
SOURCE = "must be 1-64 of A-Za-z0-9._- (ASCII letters, digits, dot, underscore, hyphen)"
UPN = "must be a user principal name or e-mail address, name@domain, without spaces or control characters"
DATE_TIME = "an ISO 8601 date-time with a UTC offset, such as 2026-12-01T10:00:00+01:00"
NOT_A_FIELD = "is not a field of schema version 1"
# What pydantic says in its own words; none of it may reach a result.
PYDANTIC_WORDING = ("Input should", "String should", "List should", "Field required", "Value error", "instance of", "[type=")
FALLBACK = "does not have the form schema version 1 gives this field"


def problems(overrides: dict[str, Any]) -> dict[str | None, str]:
    document = booking(**{name: value for name, value in overrides.items() if value is not MISSING})
    for name in [name for name, value in overrides.items() if value is MISSING]:
        document.pop(name)
    with pytest.raises(InvalidBooking) as raised:
        parse_booking(json.dumps(document).encode("utf-8"))
    assert raised.value.code == "invalid_booking"
    return {problem.field: problem.reason for problem in raised.value.problems}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # a wrong JSON type
        pytest.param({"source": 5}, {"source": "must be a JSON string"}, id="source as a number"),
        pytest.param({"revision": "3"}, {"revision": "must be a JSON integer"}, id="revision as text"),
        pytest.param({"revision": True}, {"revision": "must be a JSON integer"}, id="revision as true"),
        pytest.param(
            {"attendees": {"upn": "ada@contoso.com"}}, {"attendees": "must be a JSON array"}, id="attendees as an object"
        ),
        pytest.param({"options": "none"}, {"options": "must be a JSON object"}, id="options as a string"),
        pytest.param(
            {"options": {"recordAutomatically": "yes"}},
            {"options.recordAutomatically": "must be true or false"},
            id="boolean option as text",
        ),
        pytest.param({"channel": {"threadId": None}}, {"channel.threadId": "must be a JSON string"}, id="null thread id"),
        pytest.param(
            {"calendar": {"sendInvitations": "true"}},
            {"calendar.sendInvitations": "must be true or false"},
            id="sendInvitations as text",
        ),
        # a pattern
        pytest.param({"source": "crm/eu"}, {"source": SOURCE}, id="source with a slash"),
        pytest.param({"organizerId": "ada@contoso.com"}, {"organizerId": GUID}, id="UPN as organizer"),
        pytest.param(
            {"channel": {"threadId": "19:a@thread.tacv2", "replyChainMessageId": "x"}},
            {"channel.replyChainMessageId": "must be a Teams chat message id: 1-20 digits"},
            id="reply chain id not digits",
        ),
        # a length or a range
        pytest.param({"recordId": ""}, {"recordId": "must not be empty"}, id="empty recordId"),
        pytest.param({"subject": "s" * 256}, {"subject": "must be at most 255 characters"}, id="subject too long"),
        pytest.param(
            {"attendees": [{"upn": f"u{n}@b.c"} for n in range(251)]},
            {"attendees": "must have at most 250 entries, not 251"},
            id="too many attendees",
        ),
        pytest.param({"revision": -1}, {"revision": "must be at least 0"}, id="negative revision"),
        pytest.param({"revision": 2**63}, {"revision": "must be at most 9223372036854775807"}, id="revision past Int64"),
        # a field left out, or one the contract does not have
        pytest.param({"organizerId": MISSING}, {"organizerId": "is required"}, id="organizerId left out"),
        pytest.param({"subject": MISSING}, {"subject": "is required when action is 'upsert'"}, id="subject left out"),
        pytest.param({"calendar": {}}, {"calendar.sendInvitations": "is required"}, id="calendar without sendInvitations"),
        pytest.param({"location": "Room 1"}, {"location": NOT_A_FIELD}, id="unknown field"),
        # a date-time
        pytest.param(
            {"start": "2026-12-01T10:00:00"},
            {"start": f"must be {DATE_TIME} (naive times are refused, never guessed)"},
            id="naive start",
        ),
        pytest.param({"start": 1764579600}, {"start": f"must be {DATE_TIME}"}, id="start as a number"),
        pytest.param(
            {"start": "2026-02-30T10:00:00+01:00"},
            {"start": f"must be a date and time that exists, as {DATE_TIME}"},
            id="30 February",
        ),
        pytest.param(
            {"end": "2026-12-01T25:00:00+01:00"}, {"end": f"must be a date and time that exists, as {DATE_TIME}"}, id="hour 25"
        ),
        pytest.param(
            {"start": "0000-12-01T10:00:00Z"}, {"start": f"must be a date and time that exists, as {DATE_TIME}"}, id="year 0"
        ),
        # a value the contract does not list
        pytest.param({"action": "delete"}, {"action": "must be 'upsert' or 'cancel'"}, id="unknown action"),
        pytest.param({"schemaVersion": 2}, {"schemaVersion": "must be 1"}, id="schema version 2"),
        pytest.param(
            {"options": {"allowMeetingChat": "off"}},
            {"options.allowMeetingChat": "must be 'enabled', 'disabled' or 'limited'"},
            id="unknown chat mode",
        ),
        # an attendee's fields, named by the attendee's place in the list (from 0)
        pytest.param(
            {"attendees": [{"upn": "ada@contoso.com"}, {"upn": "bob", "userId": "bob@contoso.com", "role": "boss", "mail": 1}]},
            {
                "attendees.1.upn": UPN,
                "attendees.1.userId": GUID,
                "attendees.1.role": "must be 'attendee', 'presenter' or 'coorganizer'",
                "attendees.1.mail": NOT_A_FIELD,
            },
            id="second attendee all wrong",
        ),
        pytest.param({"attendees": [{"upn": "a@"}]}, {"attendees.0.upn": "must be at least 3 characters"}, id="short upn"),
        pytest.param(
            {"attendees": [{"userId": "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"}]},
            {"attendees.0.upn": "is required"},
            id="attendee without upn",
        ),
        pytest.param({"attendees": ["ada@contoso.com"]}, {"attendees.0": "must be a JSON object"}, id="attendee as a string"),
    ],
)
def test_each_kind_of_bad_value_is_said_in_the_contracts_words(overrides: dict[str, Any], expected: dict[str, str]) -> None:
    assert problems(overrides) == expected


def test_the_rejected_result_carries_those_words() -> None:
    with pytest.raises(InvalidBooking) as raised:
        parse_booking(json.dumps(booking(source=5, revision="3")).encode("utf-8"))

    error = rejected_error(raised.value)

    assert (error.code, error.message) == ("invalid_booking", "the booking message does not match schema version 1")
    assert [(detail.field, detail.reason) for detail in error.details] == [
        ("source", "must be a JSON string"),
        ("revision", "must be a JSON integer"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, "the message body nests arrays or objects too deeply to be a booking"),
        (b'{"a": {"a": ' * 3000 + b"1" + b"}" * 6000, "the message body nests arrays or objects too deeply to be a booking"),
        (
            b'{"schemaVersion": 1, "schemaVersion": 1}',
            'the message body is not JSON: the key "schemaVersion" appears twice in one object',
        ),
    ],
)
def test_an_unreadable_body_is_said_in_jsons_words_not_pythons(body: bytes, message: str) -> None:
    with pytest.raises(InvalidBooking) as raised:
        parse_booking(body)

    assert (raised.value.code, raised.value.message) == ("invalid_json", message)


def _schema_field_names() -> frozenset[str]:
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads((REPO_ROOT / "schemas" / "booking.v1.schema.json").read_text(encoding="utf-8")))
    return frozenset(names)


SCHEMA_FIELDS = _schema_field_names()
GUID_VALUE = "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
attendees = st.fixed_dictionaries(
    {},
    optional={
        "upn": json_values | st.just("ada@contoso.com"),
        "userId": json_values | st.just(GUID_VALUE),
        "role": json_values | st.sampled_from(["attendee", "presenter"]),
        "mail": json_values,
    },
)
nested = {
    "attendees": st.lists(attendees | json_values, max_size=3) | json_values,
    "channel": st.fixed_dictionaries(
        {}, optional={"threadId": json_values | st.just("19:a@thread.tacv2"), "messageId": json_values, "name": json_values}
    )
    | json_values,
    "options": st.fixed_dictionaries(
        {},
        optional={
            "lobbyBypassSettings": st.fixed_dictionaries(
                {}, optional={"scope": json_values, "isDialInBypassEnabled": json_values}
            )
            | json_values,
            "allowMeetingChat": json_values,
            "recordAutomatically": json_values,
        },
    )
    | json_values,
    "calendar": st.fixed_dictionaries({}, optional={"sendInvitations": json_values}) | json_values,
    "start": json_values | st.text(alphabet="0123456789-T:+Z.", max_size=26),
}
fields = {name: json_values for name in [*booking(), "language", "location"]} | nested


@given(st.fixed_dictionaries({}, optional=fields), st.lists(st.sampled_from(sorted(booking())), max_size=3))
def test_no_bad_booking_hears_pydantics_words(replacements: dict[str, Any], left_out: list[str]) -> None:
    document = booking(**replacements)
    for name in left_out:
        document.pop(name, None)
    try:
        parse_booking(json.dumps(document).encode("utf-8"))
    except InvalidBooking as error:
        for problem in error.problems:
            assert problem.reason != FALLBACK, problem
            assert not any(wording in problem.reason for wording in PYDANTIC_WORDING), problem
            if problem.reason != NOT_A_FIELD and problem.field is not None:
                # The path is the contract's field names and list places, nothing of pydantic's own.
                assert all(part.isdigit() or part in SCHEMA_FIELDS for part in problem.field.split(".")), problem
