"""The booking messages a command reads: files, folders of them, or JSON lines on stdin.

`simulate` and `send` take the same inputs, so they read them here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

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


def read_inputs(sources: list[str], stdin: TextIO | None = None, err: TextIO | None = None) -> list[BookingInput]:
    """Files (.json: one message; .jsonl: one per line), folders of them (sorted), or - for JSON lines on stdin.

    Raises OSError for a path that cannot be read and NoBookingMessages when nothing was found."""
    inputs: list[BookingInput] = []
    err = err or sys.stderr
    for source in sources:
        if source == "-":
            inputs += _read_stdin(stdin or sys.stdin, err)
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


def _read_file(file: Path, err: TextIO) -> list[BookingInput]:
    """A .json file is one message, a .jsonl file one per line; a file whose content is the other kind is read
    as what it holds, with a warning: read by its name, each line (or the whole file) would be rejected as not JSON."""
    body = file.read_bytes()
    lines = [(n, line) for n, line in enumerate(body.splitlines(), 1) if line.strip()]
    as_lines = [BookingInput(f"{file}:{n}", line) for n, line in lines]
    if file.suffix == ".jsonl":
        if len(lines) > 1 and _is_one_json_object(body):
            err.write(
                f"warning: {escaped(file)} holds one JSON object over {len(lines)} lines, not JSON lines (one message per "
                "line); read as one message. Name it .json, or compact it with: jq -c .\n"
            )
            return [BookingInput(str(file), body)]
        return as_lines
    if not body.strip():  # an empty file holds no message, as a blank line
        return []
    if len(lines) > 1 and not _is_json(body) and all(_is_one_json_object(line) for _, line in lines):
        err.write(
            f"warning: {escaped(file)} holds {len(lines)} JSON lines, not one JSON message; read as one message per "
            "line. Name it .jsonl\n"
        )
        return as_lines
    return [BookingInput(str(file), body)]


def _read_stdin(stream: TextIO, err: TextIO) -> list[BookingInput]:
    lines = [(n, line) for n, line in enumerate(stream, 1) if line.strip()]
    if len(lines) > 1 and _is_one_json_object("".join(line for _, line in lines)):
        # `cat booking.json | ... -` is the usual slip: read line by line, every line would be rejected as not JSON.
        err.write(
            f"warning: stdin holds one JSON object over {len(lines)} lines, not JSON lines (one message per line); "
            "read as one message. Pass the file's name instead, or compact it with: jq -c .\n"
        )
        return [BookingInput("stdin", "".join(line for _, line in lines).encode())]
    return [BookingInput(f"stdin:{n}", line.encode()) for n, line in lines]


def _is_one_json_object(text: str | bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _is_json(text: bytes) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
