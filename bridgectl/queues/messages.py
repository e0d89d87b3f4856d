"""Reading received messages without trusting them, and printing rows as a table.

Received bodies arrive as byte sections and properties as bytes; results and dead letters both
read them the same way, so the reading lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def message_body(message: Any) -> bytes:
    """The body as bytes: a received data body is an iterable of byte sections."""
    body = message.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    try:
        return b"".join(body)
    except TypeError:
        return str(message).encode("utf-8")


def message_properties(message: Any) -> dict[str, Any]:
    """Application properties with str keys and values: received ones arrive as bytes."""
    return {decoded(key): decoded(value) for key, value in (message.application_properties or {}).items()}


def decoded(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body.decode("utf-8").removeprefix("\ufeff"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def string_field(document: Mapping[str, Any] | None, name: str) -> str | None:
    value = (document or {}).get(name)
    return value if isinstance(value, str) else None


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is left ragged."""
    lines = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]).rstrip() for line in lines
    )
