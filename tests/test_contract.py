"""The booking message contract: what is accepted, and the exact answer to each bad input."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from bridgectl.schemas import SCHEMA_DIR, SCHEMA_FILES, render_schema
from shared.booking import _LINE_BREAKS, _REFUSED_CATEGORIES, MAX_ATTENDEES, MAX_BODY_BYTES, Booking, parse_booking
from shared.errors import InvalidBooking
from shared.identifiers import GUID, SOURCE_NAME, python_pattern
from shared.meeting_request import build_create_or_get_body
from tests.bookings import ORGANIZER_ID, booking


def encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def rejection(body: bytes) -> tuple[str, dict[str | None, str]]:
    with pytest.raises(InvalidBooking) as raised:
        parse_booking(body)
    return raised.value.code, {problem.field: problem.reason for problem in raised.value.problems}


def test_the_documented_example_is_valid_and_normalised() -> None:
    parsed = parse_booking(encode(booking(organizerId=ORGANIZER_ID.upper())))
    assert parsed.organizer_id == ORGANIZER_ID
    assert parsed.action == "upsert"
    assert parsed.start.astimezone(UTC) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_minimal_booking_defaults_to_upsert_without_attendees() -> None:
    document = booking()
    for optional in ("revision", "action", "attendees"):
        document.pop(optional)
    parsed = parse_booking(encode(document))
    assert (parsed.action, parsed.revision, parsed.attendees) == ("upsert", None, [])


@pytest.mark.parametrize(
    ("name", "overrides", "field", "reason"),
    [
        ("naive start", {"start": "2026-12-01T10:00:00"}, "start", "naive times are refused"),
        ("date only", {"end": "2026-12-01"}, "end", "UTC offset"),
        ("unix time", {"start": 1764579600}, "start", "ISO 8601"),
        ("end before start", {"end": "2026-12-01T09:00:00+01:00"}, "end", "must be after start"),
        ("end equals start", {"end": "2026-12-01T10:00:00+01:00"}, "end", "must be after start"),
        ("over a day", {"end": "2026-12-02T10:00:01+01:00"}, "end", "at most 24 hours"),
        ("UPN as organizer", {"organizerId": "ada@contoso.com"}, "organizerId", "not a UPN"),
        ("unknown action", {"action": "delete"}, "action", "'upsert' or 'cancel'"),
        ("unknown field", {"location": "Room 1"}, "location", "not a field of schema version 1"),
        ("schema version 2", {"schemaVersion": 2}, "schemaVersion", "must be 1"),
        ("schema version as string", {"schemaVersion": "1"}, "schemaVersion", "JSON integer"),
        ("schema version as true", {"schemaVersion": True}, "schemaVersion", "JSON integer"),
        ("revision as string", {"revision": "3"}, "revision", "must be a JSON integer"),
        ("negative revision", {"revision": -1}, "revision", "must be at least 0"),
        ("source with a slash", {"source": "crm/eu"}, "source", "1-64 of A-Za-z0-9._-"),
        ("source too long", {"source": "s" * 65}, "source", "1-64 of A-Za-z0-9._-"),
        ("empty recordId", {"recordId": ""}, "recordId", "must not be empty"),
        ("recordId too long", {"recordId": "r" * 257}, "recordId", "at most 256 characters"),
        ("control character in recordId", {"recordId": "BK\x00-1"}, "recordId", "control characters"),
        ("line break in subject", {"subject": "Intro\ncall"}, "subject", "control characters"),
        ("blank subject", {"subject": "   "}, "subject", "must not be blank"),
        ("subject too long", {"subject": "s" * 256}, "subject", "at most 255 characters"),
        ("subject missing", {"subject": None}, "subject", "required when action is 'upsert'"),
        ("subject as number", {"subject": 42}, "subject", "must be a JSON string"),
        ("attendees not a list", {"attendees": {"upn": "a@b"}}, "attendees", "must be a JSON array"),
        ("attendee without upn", {"attendees": [{"role": "attendee"}]}, "attendees.0.upn", "is required"),
        ("attendee upn not an address", {"attendees": [{"upn": "ada"}]}, "attendees.0.upn", "name@domain"),
        ("attendee role producer", {"attendees": [{"upn": "a@b.c", "role": "producer"}]}, "attendees.0.role", "'attendee'"),
        ("presenter without userId", {"attendees": [{"upn": "a@b.c", "role": "presenter"}]}, "attendees.0.role", "needs userId"),
        ("duplicate attendee", {"attendees": [{"upn": "a@b.c"}, {"upn": "A@B.C"}]}, "attendees", "same upn twice"),
        ("unknown attendee field", {"attendees": [{"upn": "a@b.c", "email": "x"}]}, "attendees.0.email", "not a field"),
        ("channel without threadId", {"channel": {"messageId": "0"}}, "channel.threadId", "is required"),
        ("channel as a string", {"channel": "19:abc@thread.tacv2"}, "channel", "must be a JSON object"),
        ("meeting chat as channel", {"channel": {"threadId": "19:meeting_abc@thread.v2"}}, "channel.threadId", "thread id"),
        ("channel id not a thread", {"channel": {"threadId": "General"}}, "channel.threadId", "thread id"),
        ("line break in thread", {"channel": {"threadId": "19%3Aabc%40thread.tacv2%0A"}}, "channel.threadId", "thread id"),
        (
            "messageId not digits",
            {"channel": {"threadId": "19:a@thread.tacv2", "messageId": "x"}},
            "channel.messageId",
            "1-20 digits",
        ),
        ("unknown channel field", {"channel": {"threadId": "19:a@thread.tacv2", "name": "x"}}, "channel.name", "not a field"),
        (
            "channel with calendar",
            {"calendar": {"sendInvitations": True}, "channel": {"threadId": "19:a@thread.tacv2"}},
            "channel",
            "calendar event's Teams meeting cannot be booked into a channel",
        ),
        ("language with underscore", {"language": "de_DE"}, "language", "BCP 47"),
        ("language too short", {"language": "e"}, "language", "BCP 47"),
        ("language with a header", {"language": "ja\r\nX: 1"}, "language", "BCP 47"),
        ("language as list", {"language": ["de"]}, "language", "must be a JSON string"),
        (
            "too many attendees",
            {"attendees": [{"upn": f"u{n}@b.c"} for n in range(MAX_ATTENDEES + 1)]},
            "attendees",
            "at most 250",
        ),
    ],
)
def test_each_bad_field_is_named_with_its_reason(name: str, overrides: dict[str, Any], field: str, reason: str) -> None:
    document = booking(**overrides)
    if overrides.get("subject", "") is None:
        document.pop("subject")
    code, problems = rejection(encode(document))
    assert code == "invalid_booking", name
    assert field in problems, (name, problems)
    assert reason in problems[field], (name, problems[field])


def test_ten_thousand_attendees_are_refused_by_size_before_parsing() -> None:
    body = encode(booking(attendees=[{"upn": f"user{n}@contoso.com"} for n in range(10_000)]))
    assert rejection(body)[0] == "body_too_large"


def test_ten_megabyte_body_is_refused_by_size() -> None:
    code, problems = rejection(b" " * (10 * 1024 * 1024))
    assert code == "body_too_large"
    assert problems == {}


def test_the_size_limit_is_exact() -> None:
    document = encode(booking())
    at_limit = document + b" " * (MAX_BODY_BYTES - len(document))
    assert parse_booking(at_limit).record_id == "BK-10023"
    assert rejection(at_limit + b" ")[0] == "body_too_large"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"\xff\xfe{\x00}\x00", "invalid_encoding", "not UTF-8"),
        (b"{'schemaVersion': 1}", "invalid_json", "not JSON"),
        (b'{"schemaVersion": 1, "schemaVersion": 1}', "invalid_json", "appears twice"),
        (b'{"revision": NaN}', "invalid_json", "NaN"),
        (b"", "invalid_json", "not JSON"),
        (b"[1, 2]", "invalid_booking", "JSON object"),
        (b'"a string"', "invalid_booking", "JSON object"),
    ],
)
def test_unreadable_bodies(body: bytes, code: str, message: str) -> None:
    with pytest.raises(InvalidBooking) as raised:
        parse_booking(body)
    assert raised.value.code == code
    assert message in raised.value.message


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    assert parse_booking(b"\xef\xbb\xbf" + encode(booking())).source == "crm-eu"


@pytest.mark.parametrize(
    ("sent", "normalised"),
    [
        ("19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2", "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"),
        ("19%3A3b5239894b776357c1dd79%40thread.skype", "19:3b5239894b776357c1dd79@thread.skype"),
        ("19%3aGeneral_x-1%40thread.tacv2", "19:General_x-1@thread.tacv2"),
    ],
)
def test_a_channel_thread_id_is_accepted_as_teams_shows_it_or_percent_encoded(sent: str, normalised: str) -> None:
    parsed = parse_booking(encode(booking(channel={"threadId": sent, "replyChainMessageId": "1563302249053"})))
    assert parsed.channel is not None and parsed.channel.thread_id == normalised


@pytest.mark.parametrize("language", ["de-DE", "ja", "pt-BR", "zh-Hant-TW", "es-419", "sl-rozaj-biske"])
def test_bcp_47_language_tags_are_accepted(language: str) -> None:
    assert parse_booking(encode(booking(language=language))).language == language


def test_cancel_needs_only_the_identifying_fields() -> None:
    parsed = parse_booking(
        encode({"schemaVersion": 1, "source": "crm-eu", "recordId": "BK-1", "action": "cancel", "organizerId": ORGANIZER_ID})
    )
    assert (parsed.action, parsed.subject, parsed.start) == ("cancel", None, None)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_accepted_or_rejected_never_crash(body: bytes) -> None:
    try:
        parse_booking(body)
    except InvalidBooking as error:
        assert error.code in {"invalid_encoding", "invalid_json", "invalid_booking", "body_too_large"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(sorted(booking())), json_values, max_size=6))
def test_near_valid_bookings_are_accepted_or_rejected_with_reasons(replacements: dict[str, Any]) -> None:
    document = booking(**replacements)
    try:
        parsed = parse_booking(encode(document))
    except InvalidBooking as error:
        assert error.code == "invalid_booking"
        assert error.problems and all(problem.reason for problem in error.problems)
    else:
        if parsed.action == "upsert":
            assert json.loads(build_create_or_get_body(parsed, "x"))["endDateTime"].endswith("Z")


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_json_schemas_are_current(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == render_schema(SCHEMA_FILES[name]), "run: python -m bridgectl.schemas"


def test_json_schema_names_the_fields_upstream_systems_rely_on() -> None:
    schema = json.loads((SCHEMA_DIR / "booking.v1.schema.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]) == {
        "schemaVersion",
        "source",
        "recordId",
        "revision",
        "action",
        "organizerId",
        "subject",
        "start",
        "options",
        "end",
        "attendees",
        "channel",
        "language",
        "calendar",
        "attendance",
    }
    assert set(schema["required"]) == {"schemaVersion", "source", "recordId", "organizerId"}
    assert schema["then"]["required"] == ["subject", "start", "end"]
    assert schema["additionalProperties"] is False
    assert Booking.model_json_schema(by_alias=True)["title"] == schema["title"]


@pytest.mark.parametrize(
    ("overrides", "valid"),
    [
        ({"calendar": {"sendInvitations": True}, "channel": {"threadId": "19:a@thread.tacv2"}}, False),
        ({"calendar": {"sendInvitations": True}, "channel": None}, True),
        ({"calendar": None, "channel": {"threadId": "19:a@thread.tacv2"}}, True),
        ({"calendar": {"sendInvitations": False}}, True),
    ],
)
def test_the_json_schema_refuses_channel_with_calendar_as_the_bridge_does(overrides: dict[str, Any], valid: bool) -> None:
    validator = Draft202012Validator(json.loads((SCHEMA_DIR / "booking.v1.schema.json").read_text(encoding="utf-8")))
    document = booking(**overrides)
    assert validator.is_valid(document) is valid
    try:
        parse_booking(encode(document))
        parsed = True
    except InvalidBooking:
        parsed = False
    assert parsed is valid


def test_no_character_the_text_rule_refuses_is_printable() -> None:
    """The text check accepts printable text without looking at each character (str.isprintable, in C):
    exact only if every refused character is unprintable, which this checks for every code point."""
    refused_yet_printable = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (unicodedata.category(chr(code)) in _REFUSED_CATEGORIES or chr(code) in _LINE_BREAKS) and chr(code).isprintable()
    ]
    assert refused_yet_printable == []


GUID_REASON = "must be a GUID such as 6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e (an Entra object id, not a UPN)"
DATE_TIME_REASON = (
    "must be an ISO 8601 date-time with a UTC offset, such as 2026-12-01T10:00:00+01:00 (naive times are refused, never guessed)"
)
# Every field whose value the contract checks as a whole: how to send it with a given ending, and the reason.
TRAILING_NEWLINES: list[tuple[str, Callable[[str], dict[str, Any]], str]] = [
    ("organizerId", lambda end: {"organizerId": ORGANIZER_ID + end}, GUID_REASON),
    ("attendees.0.userId", lambda end: {"attendees": [{"upn": "ada@contoso.com", "userId": ORGANIZER_ID + end}]}, GUID_REASON),
    (
        "source",
        lambda end: {"source": "crm-eu" + end},
        "must be 1-64 of A-Za-z0-9._- (ASCII letters, digits, dot, underscore, hyphen)",
    ),
    (
        "attendees.0.upn",
        lambda end: {"attendees": [{"upn": "ada@contoso.com" + end}]},
        "must be a user principal name or e-mail address, name@domain, without spaces or control characters",
    ),
    (
        "channel.threadId",
        lambda end: {"channel": {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2" + end}},
        "must be a Teams channel's thread id such as 19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2 (or @thread.skype), "
        "as Teams shows it or percent-encoded",
    ),
    (
        "channel.messageId",
        lambda end: {"channel": {"threadId": "19:a@thread.tacv2", "messageId": "0" + end}},
        "must be a Teams chat message id: 1-20 digits",
    ),
    (
        "channel.replyChainMessageId",
        lambda end: {"channel": {"threadId": "19:a@thread.tacv2", "replyChainMessageId": "1563302249053" + end}},
        "must be a Teams chat message id: 1-20 digits",
    ),
    (
        "language",
        lambda end: {"language": "de-DE" + end},
        "must be a BCP 47 language tag such as de-DE, ja or pt-BR (language, optional script and region)",
    ),
    ("start", lambda end: {"start": "2026-12-01T10:00:00+01:00" + end}, DATE_TIME_REASON),
    ("end", lambda end: {"end": "2026-12-01T10:30:00Z" + end}, DATE_TIME_REASON),
    ("recordId", lambda end: {"recordId": "BK-10023" + end}, "must not contain control characters or line breaks"),
]
# Checked by the parser's text rule and by `format: date-time`, which validators need not assert: not by a pattern.
NOT_BY_A_PATTERN = {"recordId", "start", "end"}


@pytest.mark.parametrize(("field", "sent", "reason"), TRAILING_NEWLINES)
def test_a_value_with_a_trailing_newline_is_rejected_naming_its_field(
    field: str, sent: Callable[[str], dict[str, Any]], reason: str
) -> None:
    # Python's `$` matches before a final newline: a GUID checked with it reached Graph's URL as ...%0A.
    assert parse_booking(encode(booking(**sent(""))))
    assert rejection(encode(booking(**sent("\n")))) == ("invalid_booking", {field: reason})


@pytest.mark.parametrize(
    ("shape", "valid"), [(GUID, ORGANIZER_ID), (GUID, ORGANIZER_ID.upper()), (SOURCE_NAME, "crm-eu"), (SOURCE_NAME, "s" * 64)]
)
def test_the_shared_identifier_shapes_refuse_a_trailing_newline_with_match_or_fullmatch(
    shape: re.Pattern[str], valid: str
) -> None:
    # The settings and the organizer policy check ids with `match`, the contract with `fullmatch`.
    assert shape.match(valid) and shape.fullmatch(valid)
    assert shape.match(valid + "\n") is None and shape.fullmatch(valid + "\n") is None


def _ecma_262_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    # JSON Schema's patterns are ECMA-262, where `$` is the end of the text; jsonschema applies them with Python's re.
    if isinstance(instance, str) and not python_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


ECMA_262_VALIDATOR = validators.extend(Draft202012Validator, {"pattern": _ecma_262_pattern})


@pytest.mark.parametrize(
    ("field", "sent"), [(field, sent) for field, sent, _ in TRAILING_NEWLINES if field not in NOT_BY_A_PATTERN]
)
def test_the_published_schema_refuses_each_trailing_newline_as_the_parser_does(
    field: str, sent: Callable[[str], dict[str, Any]]
) -> None:
    validator = ECMA_262_VALIDATOR(json.loads((SCHEMA_DIR / "booking.v1.schema.json").read_text(encoding="utf-8")))

    assert validator.is_valid(booking(**sent(""))), field
    assert not validator.is_valid(booking(**sent("\n"))), field


@pytest.mark.parametrize(("field", "sent", "reason"), [case for case in TRAILING_NEWLINES if case[0] != "recordId"])
def test_a_value_with_a_trailing_space_is_rejected_too(field: str, sent: Callable[[str], dict[str, Any]], reason: str) -> None:
    # A recordId may end in a space (it is another record); an id, a name or a date-time is checked whole, never trimmed.
    assert rejection(encode(booking(**sent(" ")))) == ("invalid_booking", {field: reason})
