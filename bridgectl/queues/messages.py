"""Reading received messages without trusting them, and printing rows as a table.

Received bodies arrive as byte sections and properties as bytes; results and dead letters both
read them the same way, so the reading lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.log_text import escaped


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


# A table cell as long as a description may be; beyond, it is cut.
MAX_CELL_LENGTH = 2000


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
    """Columns padded to their widest cell; the last column is left ragged.

    Cells come from dead letters and results, which producers wrote: each is escaped to one printable line,
    so a message id cannot clear the operator's screen or forge a row."""
    lines = [list(headers), *[[escaped(cell, MAX_CELL_LENGTH) for cell in row] for row in rows]]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]).rstrip() for line in lines
    )


def terminal_json(document: Any, *, indent: int | None = None) -> str:
    """JSON for a terminal: readable non-ASCII text, but every non-printable character (C1 controls, bidi
    overrides, line separators) as a \\u escape, so a producer's text cannot act on the operator's terminal."""
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    return "".join(
        character if character.isprintable() or character == "\n" else json.dumps(character)[1:-1] for character in text
    )
