"""The argparse wiring of `send`, `results` and `dlq`: options, help text, failures as exit codes.

Kept apart so that what a person types and reads in --help is in one place, and the commands
themselves stay callable without a parser.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from bridgectl.exit_codes import EXIT_FAILED, EXIT_USAGE
from bridgectl.help_text import described, examples
from bridgectl.queues.connection import QueueCommandError
from bridgectl.queues.dead_letters import run_dlq_list, run_dlq_replay, run_dlq_show
from bridgectl.queues.results import run_results
from bridgectl.queues.send import run_send
from shared.errors import ConfigurationError
from shared.result import ResultStatus
from shared.settings import BOOKINGS_QUEUE, RESULTS_QUEUE, SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE

# Digits 0-9 only: int() and float() also read other scripts' digits, "1_000", "inf" and "nan".
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")
# A day: longer than anyone waits at a terminal, and far inside what a timer takes.
MAX_WAIT_SECONDS = 86400


def _positive_int(text: str) -> int:
    """argparse's type for a count; its errors say what is expected (argparse would name this function)."""
    if not _WHOLE_NUMBER.fullmatch(text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    """argparse's type for a wait; its errors say what is expected (argparse would name this function)."""
    if not _DECIMAL.fullmatch(text) or float(text) > MAX_WAIT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to {MAX_WAIT_SECONDS}, not {text!r}")
    return float(text)


def _command(
    subcommands: argparse._SubParsersAction, name: str, summary: str, paragraphs: Sequence[str], commands: Sequence[str]
) -> argparse.ArgumentParser:
    """A subcommand with a wrapped description, examples, and the options that say where the queues are."""
    parser = subcommands.add_parser(
        name,
        help=summary,
        description=described(*paragraphs),
        epilog=examples(*commands),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_connection_options(parser)
    return parser


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group(
        "where",
        described(
            "A namespace, signed in with DefaultAzureCredential (az login, VS Code, environment...), or the local "
            f"emulator's connection string. Defaults: the app settings {SERVICE_BUS_NAMESPACE}, {SERVICE_BUS_CONNECTION}, "
            f"{BOOKINGS_QUEUE} and {RESULTS_QUEUE} from the environment."
        ),
    )
    target = where.add_mutually_exclusive_group()
    target.add_argument("--namespace", metavar="FQDN", help="the namespace host, such as contoso-bookings.servicebus.windows.net")
    target.add_argument(
        "--connection-string",
        metavar="STRING",
        help="the Service Bus emulator's connection string (must contain UseDevelopmentEmulator=true; "
        "real namespaces are reached with your identity, never with a key)",
    )
    where.add_argument("--bookings-queue", metavar="NAME", help="the bookings queue (default: bookings)")
    where.add_argument("--results-queue", metavar="NAME", help="the results queue (default: meeting-results)")


def _handler(run: Callable[[argparse.Namespace, TextIO, TextIO], int]) -> Callable[[argparse.Namespace], int]:
    """Adapt a command to cli.py's handler(args) -> exit code, turning failures into one readable line."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace) -> int:
        try:
            return run(args, sys.stdout, sys.stderr)
        except ConfigurationError as error:
            print(f"error: {error} (or pass --namespace, or --connection-string for the emulator)", file=sys.stderr)
            return EXIT_USAGE
        except QueueCommandError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED

    return handler


def add_queue_commands(commands: argparse._SubParsersAction) -> None:
    """Register send, results and dlq (list, show, replay) on the CLI's subcommands."""
    _add_send(commands)
    _add_results(commands)
    _add_dlq(commands)


def _add_send(commands: argparse._SubParsersAction) -> None:
    send = _command(
        commands,
        "send",
        "validate booking messages locally, then send them to the bookings queue",
        [
            "Validates every input with the function's own booking parser first. If any is invalid, each problem is "
            "printed with its file and field, and nothing at all is sent (exit 1), unless --skip-invalid.",
            "Sends the original bytes with: message id = UUIDv5 over source, recordId, revision and the SHA-256 of the "
            "body (the same input always gets the same id); correlation id = --correlation-id or the message id; "
            "subject 'booking'; content type application/json; application properties source and recordId. Batches "
            "as large as the queue allows.",
            "Prints one JSON line per message sent (its ids and externalId) on stdout, a summary on stderr.",
        ],
        [
            "python -m bridgectl send samples/01-new-booking.json --dry-run",
            "python -m bridgectl send exports/ --namespace contoso-bookings.servicebus.windows.net",
            "cat bookings.jsonl | python -m bridgectl send - --skip-invalid --correlation-id import-2026-11-30",
        ],
    )
    send.add_argument("inputs", nargs="+", metavar="PATH", help="a .json file (one message), a .jsonl file, a folder, or -")
    send.add_argument("--skip-invalid", action="store_true", help="send the valid messages even if some are invalid")
    send.add_argument("--correlation-id", metavar="ID", help="the correlation id of every message (default: its message id)")
    send.add_argument("--dry-run", action="store_true", help="print what would be sent, with the body, and send nothing")
    send.set_defaults(handler=_handler(run_send))


def _add_results(commands: argparse._SubParsersAction) -> None:
    results = _command(
        commands,
        "results",
        "show result messages (peek by default; --receive consumes them)",
        [
            "Peeks (the default: nothing is removed or locked) or receives result messages, filtered by status, source "
            "or externalId (filters of different kinds must all match; repeated ones are alternatives).",
            "--receive completes each matching result after printing it. Results that do not match are abandoned, "
            "never completed, so they stay in the queue; but every receive raises a message's delivery count, and "
            "Service Bus dead-letters it at the queue's max delivery count (10). Use --receive only where nothing "
            "else consumes the queue, such as the emulator.",
        ],
        [
            "python -m bridgectl results --format table",
            "python -m bridgectl results --status failed --status rejected --source crm-eu",
            "python -m bridgectl results --external-id 0c1b2f6e-2d3a-5b4c-8d9e-0f1a2b3c4d5e --wait 30",
        ],
    )
    mode = results.add_mutually_exclusive_group()
    # Peeking is the default: store_false alone would make --receive the default.
    mode.add_argument(
        "--peek", dest="receive", action="store_false", default=False, help="browse without removing anything (default)"
    )
    mode.add_argument("--receive", dest="receive", action="store_true", help="receive, print and complete the matching results")
    results.add_argument("--max", type=_positive_int, default=10, metavar="N", help="show at most N results (default 10)")
    results.add_argument(
        "--wait",
        type=_seconds,
        metavar="SECONDS",
        help="how long to wait for results to arrive: a peek keeps looking until N match or the time is up (default 0); "
        "--receive waits this long for each batch (default 5, at least 1)",
    )
    statuses = [status.value for status in ResultStatus]
    results.add_argument("--status", action="append", default=[], choices=statuses, help="only this status (repeatable)")
    results.add_argument("--source", action="append", default=[], help="only this source system (repeatable)")
    results.add_argument("--external-id", action="append", default=[], metavar="ID", help="only this externalId (repeatable)")
    results.add_argument("--format", choices=("jsonl", "table"), default="jsonl", help="JSON lines (default) or a table")
    results.set_defaults(handler=_handler(run_results))


def _add_dlq(commands: argparse._SubParsersAction) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="inspect and replay dead-lettered bookings",
        description=described(
            "The bookings queue's dead-letter queue: bookings Service Bus gave up on (max delivery count reached, "
            'time-to-live expired). Find and fix the cause first (docs/operations.md, "Operator runbook"), then replay.'
        ),
        epilog=examples(
            "python -m bridgectl dlq list",
            "python -m bridgectl dlq show 42",
            "python -m bridgectl dlq replay --reason MaxDeliveryCountExceeded --dry-run",
            "python -m bridgectl dlq ACTION --help   # each action's options, with examples",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    _add_dlq_list(actions)
    _add_dlq_show(actions)
    _add_dlq_replay(actions)


def _add_dlq_list(actions: argparse._SubParsersAction) -> None:
    listing = _command(
        actions,
        "list",
        "peek the dead letters: reason, delivery count, record",
        ["Peeks the dead-lettered bookings (nothing is removed or locked), oldest first."],
        ["python -m bridgectl dlq list", "python -m bridgectl dlq list --reason MaxDeliveryCountExceeded --format jsonl"],
    )
    _add_dead_letter_filters(listing)
    listing.add_argument("--max", type=_positive_int, default=50, metavar="N", help="list at most N (default 50)")
    listing.add_argument("--format", choices=("table", "jsonl"), default="table", help="a table (default) or JSON lines")
    listing.set_defaults(handler=_handler(run_dlq_list))


def _add_dlq_show(actions: argparse._SubParsersAction) -> None:
    show = _command(
        actions,
        "show",
        "print a dead letter's full body and properties",
        ["Prints every dead letter with this sequence number or message id as JSON (peeked; nothing is removed)."],
        ["python -m bridgectl dlq show 42"],
    )
    show.add_argument("key", metavar="SEQUENCE_OR_MESSAGE_ID")
    show.set_defaults(handler=_handler(run_dlq_show))


def _add_dlq_replay(actions: argparse._SubParsersAction) -> None:
    replay = _command(
        actions,
        "replay",
        "send chosen dead letters back to the bookings queue",
        [
            "Receives the dead letters (peek-lock). For each chosen one it sends a copy to the bookings queue - same "
            "body, message id, correlation id, session id, content type and properties, plus replayedFrom (the "
            "dead-letter sequence number) and replayCount + 1 - and only after that send succeeded removes the "
            "original from the dead-letter queue.",
            "If a send fails, the original is abandoned (it stays in the dead-letter queue) and the replay stops. "
            "Dead letters not chosen are abandoned too: they stay. Choose with --message-id, --source, --reason (all "
            "given filters must match) or --all. Run with --dry-run first.",
        ],
        [
            "python -m bridgectl dlq replay --all --dry-run",
            "python -m bridgectl dlq replay --message-id 3f0c5d9e-... --message-id 9a41b2c7-...",
            "python -m bridgectl dlq replay --reason MaxDeliveryCountExceeded --source crm-eu",
        ],
    )
    replay.add_argument("--message-id", action="append", default=[], metavar="ID", help="replay this message (repeatable)")
    replay.add_argument("--all", action="store_true", help="replay every dead letter that matches the other filters")
    _add_dead_letter_filters(replay)
    replay.add_argument("--max", type=_positive_int, default=100, metavar="N", help="replay at most N (default 100)")
    replay.add_argument("--wait", type=_seconds, default=5.0, metavar="SECONDS", help="wait for dead letters (default 5)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed, and touch nothing")
    replay.set_defaults(handler=_handler(run_dlq_replay))


def _add_dead_letter_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    parser.add_argument(
        "--reason", action="append", default=[], help="only this dead-letter reason, e.g. MaxDeliveryCountExceeded"
    )
