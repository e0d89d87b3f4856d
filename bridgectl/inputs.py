"""The booking messages a command reads: files, folders of them, or JSON lines on stdin.

`simulate` and `send` take the same inputs, so they read them here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class BookingInput:
    """One booking message body and where it came from (used as its message id)."""

    label: str
    body: bytes


def read_inputs(sources: list[str], stdin: TextIO | None = None) -> list[BookingInput]:
    """Files (.json: one message; .jsonl: one per line), folders of them (sorted), or - for JSON lines on stdin."""
    inputs: list[BookingInput] = []
    for source in sources:
        if source == "-":
            stream = stdin or sys.stdin
            inputs += [BookingInput(f"stdin:{n}", line.encode()) for n, line in enumerate(stream, 1) if line.strip()]
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"no such file or folder: {source}")
        for file in files:
            if file.suffix == ".jsonl":
                lines = file.read_bytes().splitlines()
                inputs += [BookingInput(f"{file}:{n}", line) for n, line in enumerate(lines, 1) if line.strip()]
            else:
                inputs.append(BookingInput(str(file), file.read_bytes()))
    return inputs
