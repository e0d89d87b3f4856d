"""Edm.DateTimeOffset as Graph reads and writes it, to the 100-nanosecond tick.

Graph is a .NET service: it keeps times in ticks (7 fractional digits) and always answers in
UTC with a "Z" ("2026-12-01T09:00:00.0000000Z"). Python's datetime stops at microseconds, so
times are kept as integer ticks since the Unix epoch; a client that sends 7 digits gets all 7 back.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

TICKS_PER_SECOND = 10_000_000
TICKS_PER_HOUR = 3600 * TICKS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# OData ABNF dateTimeOffsetValue: seconds and fraction optional, the offset is NOT optional
# (Microsoft.OData.Core rejects a value without one). Literal letters in ABNF are case-insensitive.
_DATE_TIME_OFFSET = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,12}))?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hours>\d{2}):(?P<offset_minutes>\d{2}))"
)


def parse_date_time_offset(text: str) -> int:
    """Return UTC ticks since the epoch; ValueError says why the text is not an Edm.DateTimeOffset."""
    match = _DATE_TIME_OFFSET.fullmatch(text)
    if match is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            raise ValueError(
                f"The time zone information is missing on the DateTimeOffset value '{text}'. "
                "A DateTimeOffset value must contain the time zone information."
            )
        raise ValueError(f"The value '{text}' is not a valid Edm.DateTimeOffset.")
    offset = timedelta(0)
    if match["sign"]:
        offset = timedelta(hours=int(match["offset_hours"]), minutes=int(match["offset_minutes"]))
        if offset > timedelta(hours=14):
            raise ValueError(f"The offset in the DateTimeOffset value '{text}' is outside -14:00..+14:00.")
        if match["sign"] == "-":
            offset = -offset
    try:
        moment = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            tzinfo=timezone(offset),
        )
    except ValueError as error:
        raise ValueError(f"The value '{text}' is not a valid Edm.DateTimeOffset: {error}.") from None
    since_epoch = moment - _EPOCH
    whole_seconds = since_epoch.days * 86400 + since_epoch.seconds
    # Digits beyond the seventh are below .NET's resolution; Graph drops them.
    fraction_ticks = int((match["fraction"] or "").ljust(7, "0")[:7])
    return whole_seconds * TICKS_PER_SECOND + fraction_ticks


def format_date_time_offset(ticks: int) -> str:
    """Graph's own rendering: UTC, seven fractional digits, "Z"."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


def now_ticks() -> int:
    """The current time in UTC ticks since the epoch."""
    return time.time_ns() // 100
