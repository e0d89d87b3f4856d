"""`results`: show (or consume) result messages, filtered, as JSON lines or a table.

Kept apart because reading a result body is tolerant of anything on the results queue, and
that tolerance belongs to this command alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from bridgectl.exit_codes import EXIT_OK
from bridgectl.queues.connection import open_client, opened, resolve_endpoint, talking_to
from bridgectl.queues.messages import decoded, json_object, message_body, string_field, terminal_json
from bridgectl.queues.settlement import peek_all, receive_and_settle, report_settlement


@dataclass(frozen=True)
class ResultRow:
    """One result message as an operator reads it; tolerant of bodies that are not results."""

    message_id: str | None
    sequence_number: int | None
    document: dict[str, Any] | None
    text: str

    @property
    def status(self) -> str | None:
        return string_field(self.document, "status")

    @property
    def source(self) -> str | None:
        return string_field(self.document, "source")

    @property
    def record_id(self) -> str | None:
        return string_field(self.document, "recordId")

    @property
    def revision(self) -> int | None:
        value = (self.document or {}).get("revision")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def external_id(self) -> str | None:
        return string_field(self.document, "externalId")

    @property
    def outcome(self) -> str:
        """The join URL of a meeting, or the error code of a refusal."""
        document = self.document or {}
        meeting = document.get("meeting")
        error = document.get("error")
        if isinstance(meeting, dict) and string_field(meeting, "joinWebUrl"):
            return str(meeting["joinWebUrl"])
        if isinstance(error, dict) and string_field(error, "code"):
            return str(error["code"])
        return "-" if self.document is not None else "(not a result message)"


def read_result(message: Any) -> ResultRow:
    """Parse a result message's body without trusting it: a bad body still gets a row."""
    body = message_body(message)
    return ResultRow(
        message_id=decoded(message.message_id),
        sequence_number=message.sequence_number,
        document=json_object(body),
        text=body.decode("utf-8", errors="replace"),
    )


@dataclass(frozen=True)
class ResultFilter:
    """Which results to show: any of the statuses, any of the sources, any of the externalIds."""

    statuses: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    external_ids: frozenset[str] = frozenset()

    @property
    def is_selective(self) -> bool:
        return bool(self.statuses or self.sources or self.external_ids)

    def matches(self, row: ResultRow) -> bool:
        return (
            (not self.statuses or row.status in self.statuses)
            and (not self.sources or row.source in self.sources)
            and (not self.external_ids or (row.external_id or "").lower() in self.external_ids)
        )


def result_filter_from(args: argparse.Namespace) -> ResultFilter:
    return ResultFilter(
        statuses=frozenset(args.status),
        sources=frozenset(args.source),
        external_ids=frozenset(value.lower() for value in args.external_id),
    )


def result_json_line(row: ResultRow) -> str:
    """The result message as it is on the queue, one line; a body that is not JSON is wrapped."""
    if row.document is not None:
        return terminal_json(row.document)
    return terminal_json({"messageId": row.message_id, "unreadableBody": row.text})


# Fixed widths, so that each row can be printed as soon as it is read (a UUID is 36 wide).
RESULT_COLUMNS = (("STATUS", 9), ("SOURCE/RECORD", 40), ("REV", 3), ("EXTERNAL ID", 36), ("JOIN URL OR ERROR", 0))


def result_table_line(cells: Sequence[str]) -> str:
    return "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, RESULT_COLUMNS, strict=True)).rstrip()


def result_table_cells(row: ResultRow) -> list[str]:
    record = f"{row.source or '?'}/{row.record_id or '?'}"
    revision = "-" if row.revision is None else str(row.revision)
    return [row.status or "?", record, revision, row.external_id or "-", row.outcome]


class ResultPrinter:
    """Prints each result as it is read: a JSON line, or a table row under a header printed once."""

    def __init__(self, out: TextIO, output_format: str) -> None:
        self._out = out
        self._format = output_format
        self.count = 0

    def __call__(self, row: ResultRow) -> None:
        if self._format == "jsonl":
            self._out.write(result_json_line(row) + "\n")
        else:
            if not self.count:
                self._out.write(result_table_line([name for name, _ in RESULT_COLUMNS]) + "\n")
            self._out.write(result_table_line(result_table_cells(row)) + "\n")
        self._out.flush()
        self.count += 1


def run_results(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Peek (default) or receive results, filtered, as JSON lines or a table."""
    endpoint = resolve_endpoint(args)
    wanted = result_filter_from(args)
    queue = endpoint.results_queue
    printer = ResultPrinter(out, args.format)

    def chosen(message: Any) -> bool:
        return wanted.matches(read_result(message))

    with (
        talking_to(endpoint, queue, "Receiver"),
        open_client(endpoint) as client,
        opened(client.get_queue_receiver(queue), endpoint, queue, err) as receiver,
    ):
        if args.receive:

            def print_then_complete(message: Any) -> None:
                printer(read_result(message))
                receiver.complete_message(message)

            wait = 5.0 if args.wait is None else args.wait
            outcome = receive_and_settle(
                receiver, chosen, print_then_complete, limit=args.max, wait=wait, selective=wanted.is_selective
            )
            report_settlement(outcome, queue, err)
            err.write(f"{outcome.handled} result(s) received and completed from {queue}\n")
        else:
            for message in peek_all(receiver, chosen, limit=args.max, wait=args.wait or 0.0):
                printer(read_result(message))
            err.write(f"{printer.count} result(s) peeked in {queue} (nothing was removed)\n")
    return EXIT_OK
