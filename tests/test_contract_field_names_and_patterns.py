"""The booking contract's field names and patterns, and the words of its rejections.

Only the contract's JSON names are fields (never the models' Python names), an attendee's upn holds no control
characters, the bridge accepts a upn exactly when the published JSON Schema's pattern does, and an integer too long
for Python is rejected in the contract's words.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from shared.booking import parse_booking
from shared.errors import InvalidBooking
from tests.bookings import REPO_ROOT, booking, encode

NODE = shutil.which("node")
ESC = "\x1b"


def _rejected(document: dict[str, Any] | bytes) -> InvalidBooking | None:
    try:
        parse_booking(document if isinstance(document, bytes) else encode(document))
    except InvalidBooking as error:
        return error
    return None


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
