"""Command line for people: run the bridge locally, derive externalIds, operate the queues.

python -m bridgectl simulate samples/          # no Azure account needed
python -m bridgectl external-id crm-eu BK-10023
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import TypeAdapter, ValidationError

from bridgectl.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from bridgectl.help_text import described, examples
from bridgectl.inputs import NoBookingMessages, read_inputs
from bridgectl.queues import add_queue_commands
from bridgectl.simulate import DEMO_ORGANIZERS, SimulationSetupError, run_simulation
from shared.booking import RecordId, SourceName, field_problems
from shared.external_id import derive_external_id
from shared.log_text import MAX_LOGGED_ERROR_LENGTH, escaped

# The contract's own types: external-id refuses what a booking message would be refused for.
_SOURCE = TypeAdapter(SourceName)
_RECORD_ID = TypeAdapter(RecordId)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridgectl",
        description=__doc__.splitlines()[0],
        epilog=examples(
            "python -m bridgectl simulate samples/",
            "python -m bridgectl external-id crm-eu BK-10023",
            "python -m bridgectl send samples/01-new-booking.json --dry-run",
            "python -m bridgectl results --status failed --format table",
            "python -m bridgectl dlq list",
            "python -m bridgectl COMMAND --help   # each command's options, with examples",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = _command(
        commands,
        "simulate",
        "run booking messages through the real pipeline against the built-in Graph simulator",
        "Runs each booking message through the same pipeline the function uses, against the project's Graph and "
        "managed-identity simulator on loopback (or --graph-url). Prints one line per booking: status, "
        "source/recordId, externalId, then the join URL or the error, and the file it came from; --format jsonl "
        "prints the result messages instead, as JSON lines on stdout, with those lines on stderr. Exit status 0 "
        "when every booking was answered, 1 if any would have been redelivered, 2 for wrong arguments or no "
        "booking messages at all, 130 when stopped with Ctrl-C (after a count of what was done).",
        [
            "python -m bridgectl simulate samples/",
            "python -m bridgectl simulate samples/03-reschedule.json --format jsonl",
            "cat bookings.jsonl | python -m bridgectl simulate -",
            "python -m bridgectl simulate exports/ --organizer 9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            "python -m bridgectl simulate samples/ --graph-url http://127.0.0.1:8010/v1.0   # with IDENTITY_ENDPOINT "
            "and IDENTITY_HEADER exported, as python -m simulator prints them",
        ],
    )
    simulate.add_argument(
        "inputs",
        nargs="+",
        metavar="PATH",
        help="a .json file (one message), a .jsonl file, a folder of them, or - for JSON lines on stdin",
    )
    simulate.add_argument(
        "--format",
        choices=("table", "jsonl"),
        default="table",
        help="table: one line per booking (default); jsonl: the result messages on stdout, the lines on stderr",
    )
    simulate.add_argument(
        "--graph-url",
        help="a Graph-compatible base URL ending in /v1.0 instead of the embedded simulator (https, or http on "
        "loopback); its tokens come from IDENTITY_ENDPOINT and IDENTITY_HEADER",
    )
    simulate.add_argument(
        "--organizer",
        action="append",
        default=[],
        metavar="OBJECT_ID",
        help="a user the embedded simulator's tenant has, besides the sample organizers (repeatable)",
    )
    simulate.set_defaults(handler=_simulate)

    external_id = _command(
        commands,
        "external-id",
        "print the externalId the bridge derives for a source record",
        'Prints the externalId of a source record: UUIDv5 over "SOURCE\\nRECORD_ID" in the bridge\'s namespace, '
        "the session id its bookings are sent with and the key of its meeting in Graph. SOURCE and RECORD_ID are "
        "checked as a booking message's source and recordId are; a record the contract refuses has no externalId "
        "(exit status 2).",
        [
            "python -m bridgectl external-id crm-eu BK-10023",
            "python -m bridgectl external-id clinic.north appointment/2026/000017",
            'python -m bridgectl results --external-id "$(python -m bridgectl external-id crm-eu BK-10023)"',
        ],
    )
    external_id.add_argument("source", metavar="SOURCE", help="the upstream system: 1-64 of A-Za-z0-9._-")
    external_id.add_argument(
        "record_id", metavar="RECORD_ID", help="the record's id there: 1-256 characters, no control characters"
    )
    external_id.set_defaults(handler=_external_id)
    add_queue_commands(commands)
    return parser


def _command(
    subcommands: argparse._SubParsersAction, name: str, summary: str, description: str, commands: list[str]
) -> argparse.ArgumentParser:
    return subcommands.add_parser(
        name,
        help=summary,
        description=described(description),
        epilog=examples(*commands),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _simulate(args: argparse.Namespace) -> int:
    try:
        inputs = read_inputs(args.inputs)
    except (OSError, NoBookingMessages) as error:
        print(f"error: {escaped(error, MAX_LOGGED_ERROR_LENGTH)}", file=sys.stderr)  # a path is anyone's text
        return EXIT_USAGE
    # Each booking's outcome is printed as its line; the pipeline's and the SDK's log records would repeat it
    # (a token failure three times over), so this command gives them a handler that prints nothing.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        return run_simulation(
            inputs,
            graph_url=args.graph_url,
            organizers=(*DEMO_ORGANIZERS, *args.organizer),
            as_json=args.format == "jsonl",
        )
    except SimulationSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _external_id(args: argparse.Namespace) -> int:
    refused = False
    for name, adapter, value in (("SOURCE", _SOURCE, args.source), ("RECORD_ID", _RECORD_ID, args.record_id)):
        reason = _reason(adapter, value)
        if reason:
            print(f"error: {name} {escaped(repr(value))}: {reason}", file=sys.stderr)
            refused = True
    if refused:
        return EXIT_USAGE
    print(derive_external_id(args.source, args.record_id))
    return EXIT_OK


def _reason(adapter: TypeAdapter[str], value: str) -> str | None:
    try:
        adapter.validate_python(value)
    except ValidationError as error:
        return "; ".join(problem.reason for problem in field_problems(error))
    return None


def main(argv: list[str] | None = None) -> int:
    try:
        # Building the parser takes a noticeable moment (argparse reads its message catalogues): inside, so that a
        # Ctrl-C then stops as cleanly as one while the command runs.
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except KeyboardInterrupt:
        # Commands that can count what they did say so themselves (simulate, send); the others print each thing
        # as it is done, and leave nothing half-settled: a message received and not settled returns to its queue.
        print("interrupted: stopped before the command finished; the lines above are what it did", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # python -m bridgectl.cli: the same as python -m bridgectl
    sys.exit(main())
