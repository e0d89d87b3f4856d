"""The booking messages a command reads: files, folders of them, or JSON lines on stdin.

`simulate` and `send` take the same inputs, so they read them here.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from shared.log_text import escaped


@dataclass(frozen=True)
class BookingInput:
    """One booking message body and where it came from (used as its message id)."""

    label: str
    body: bytes


class NoBookingMessages(ValueError):
    """The paths hold no booking message at all: running on nothing is a mistake, never a success."""

    def __init__(self) -> None:
        super().__init__(
            "no booking messages found in the given paths (a .json file holds one, a .jsonl file or - on stdin one "
            "per line, and a folder is read for its .json and .jsonl files)"
        )


def read_inputs(sources: list[str], stdin: BinaryIO | None = None, err: TextIO | None = None) -> list[BookingInput]:
    """Files (.json: one message; .jsonl: one per line), folders of them (sorted), or - for JSON lines on stdin.

    Raises OSError for a path that cannot be read (or a closed stdin) and NoBookingMessages when nothing was found."""
    inputs: list[BookingInput] = []
    err = err or sys.stderr
    for source in sources:
        if source == "-":
            inputs += _read_stdin(_stdin_bytes(stdin), err)
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"no such file or folder: {source}")
        for file in files:
            inputs += _read_file(file, err)
    if not inputs:
        raise NoBookingMessages()
    return inputs


def _stdin_bytes(stdin: BinaryIO | None) -> bytes:
    """Stdin's bytes as they came: a line that is not UTF-8 is a message the bridge answers `invalid_encoding`."""
    if stdin is not None:
        return stdin.read()
    if sys.stdin is None:  # started without a stdin at all (closed, as some schedulers start a process)
        raise OSError("stdin is closed, so - has nothing to read: pipe booking messages in, or name their files")
    return sys.stdin.buffer.read()


def _read_file(file: Path, err: TextIO) -> list[BookingInput]:
    """A .json file is one message, a .jsonl file one per line; a file whose content is the other kind is read
    as what it holds, with a warning: read by its name, each line (or the whole file) would be rejected as not JSON."""
    body = file.read_bytes()
    lines = _lines(body)
    objects = _json_objects(body)
    name = escaped(file)
    if file.suffix == ".jsonl":
        if objects is None or len(objects) == len(lines):
            return [BookingInput(f"{file}:{n}", line) for n, line in lines]
        if len(objects) == 1:
            err.write(
                f"warning: {name} holds one JSON object over {len(lines)} lines, not JSON lines (one message per "
                "line); read as one message. Name it .json, or compact it with: jq -c .\n"
            )
            return [BookingInput(str(file), body)]
        err.write(
            f"warning: {name} holds {len(objects)} JSON objects over {len(lines)} lines, not JSON lines (one message "
            f"per line); read as {len(objects)} messages. Compact it with: jq -c .\n"
        )
        return [BookingInput(f"{file}:{n}", part) for n, part in objects]
    if not lines:  # an empty file holds no message, as a blank line
        return []
    if objects is not None and len(objects) > 1:
        if len(objects) == len(lines):
            err.write(
                f"warning: {name} holds {len(lines)} JSON lines, not one JSON message; read as one message per "
                "line. Name it .jsonl\n"
            )
        else:
            err.write(
                f"warning: {name} holds {len(objects)} JSON objects, not one JSON message; read as {len(objects)} "
                "messages. Put one in each .json file, or compact them into a .jsonl file with: jq -c .\n"
            )
        return [BookingInput(f"{file}:{n}", part) for n, part in objects]
    if _is_json_array(body):
        err.write(
            f"warning: {name} holds a JSON array, not one JSON message (an object), so it is rejected. Put one "
            "booking in each .json file, or one per line in a .jsonl file: jq -c '.[]'\n"
        )
    return [BookingInput(str(file), body)]


def _read_stdin(body: bytes, err: TextIO) -> list[BookingInput]:
    lines = _lines(body)
    objects = _json_objects(body)
    if objects is None or len(objects) == len(lines):
        return [BookingInput(f"stdin:{n}", line) for n, line in lines]
    # `cat booking.json | ... -` is the usual slip: read line by line, every line would be rejected as not JSON.
    if len(objects) == 1:
        err.write(
            f"warning: stdin holds one JSON object over {len(lines)} lines, not JSON lines (one message per line); "
            "read as one message. Pass the file's name instead, or compact it with: jq -c .\n"
        )
        return [BookingInput("stdin", objects[0][1])]
    err.write(
        f"warning: stdin holds {len(objects)} JSON objects over {len(lines)} lines, not JSON lines (one message per "
        f"line); read as {len(objects)} messages. Pass the files' names instead, or compact them with: jq -c .\n"
    )
    return [BookingInput(f"stdin:{n}", part) for n, part in objects]


def _lines(body: bytes) -> list[tuple[int, bytes]]:
    """The lines that are not blank, numbered from 1."""
    return [(n, line) for n, line in enumerate(body.splitlines(), 1) if line.strip()]


# JSON's white space (RFC 8259), which may stand between the values of a stream of them.
_JSON_WHITE_SPACE = re.compile(r"[ \t\n\r]*")


def _json_objects(body: bytes) -> list[tuple[int, bytes]] | None:
    """The JSON objects the body holds one after another, each with the line it starts on, or None if it holds
    anything else (text that is not JSON, a value that is not an object, bytes that are not UTF-8)."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    objects: list[tuple[int, bytes]] = []
    position, line, counted_to = _after_white_space(text, 0), 1, 0
    while position < len(text):
        try:
            value, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        line += text.count("\n", counted_to, position)
        objects.append((line, text[position:end].encode("utf-8")))
        position, counted_to = _after_white_space(text, end), position
    return objects or None


def _after_white_space(text: str, position: int) -> int:
    found = _JSON_WHITE_SPACE.match(text, position)
    return found.end() if found else position


def _is_json_array(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), list)
    except (ValueError, RecursionError):
        return False
