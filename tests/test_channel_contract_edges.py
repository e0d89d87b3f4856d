"""The channel and invitation fields at the edges of their contract."""

from __future__ import annotations

import json
import re

import pytest

from shared.booking import parse_booking
from shared.errors import InvalidBooking
from shared.join_information import read_join_information
from tests.bookings import REPO_ROOT, booking


def test_a_declared_charset_is_honoured_or_the_text_left_out() -> None:
    # RFC 2397: the data's bytes are in the declared charset; decoding latin-1 bytes as UTF-8 gives U+FFFD mojibake.
    reading = read_join_information({"content": "data:text/html;charset=iso-8859-1,%3Cp%3E%E9t%E9%3C%2Fp%3E"})

    assert reading.value is None or reading.value.content == "<p>été</p>", reading.value


def test_the_parser_refuses_every_thread_id_the_published_schema_refuses() -> None:
    schema = json.loads((REPO_ROOT / "schemas" / "booking.v1.schema.json").read_text(encoding="utf-8"))
    pattern = json.dumps(schema)  # find the threadId pattern wherever the generator put it
    [sent] = set(re.findall(r'"pattern": "(\^19[^"]*thread[^"]*)"', pattern))
    sent = json.loads(f'"{sent}"')
    thread_id = "%31%39%3A7ebda77322dd4505ac4dedb5b67df076%40thread%2Etacv2"  # "19:...@thread.tacv2", over-encoded

    assert not re.search(sent, thread_id)  # the published schema refuses it...
    with pytest.raises(InvalidBooking) as raised:  # ...and so does the parser
        parse_booking(json.dumps(booking(channel={"threadId": thread_id})).encode())
    assert [problem.field for problem in raised.value.problems] == ["channel.threadId"]
