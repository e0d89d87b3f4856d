"""Command line for people: run the bridge locally, derive externalIds, operate the queues.

python -m bridgectl simulate samples/          # no Azure account needed
python -m bridgectl external-id crm-eu BK-10023
"""

from __future__ import annotations

import argparse
import sys

from bridgectl.exit_codes import EXIT_OK, EXIT_USAGE
from bridgectl.inputs import read_inputs
from bridgectl.queues import add_queue_commands
from bridgectl.simulate import DEMO_ORGANIZERS, run_simulation
from shared.external_id import derive_external_id


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridgectl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = commands.add_parser(
        "simulate",
        help="run booking messages through the real pipeline against the built-in Graph simulator",
        description="Runs each booking message through the same pipeline the function uses, against the project's Graph "
        "and managed-identity simulator on loopback (or --graph-url). Prints each result message as a JSON line on stdout "
        "and a one-line summary on stderr. Exit status 1 if any message would have been redelivered.",
    )
    simulate.add_argument(
        "inputs",
        nargs="+",
        metavar="PATH",
        help="a .json file (one message), a .jsonl file, a folder of them, or - for JSON lines on stdin",
    )
    simulate.add_argument("--graph-url", help="a Graph-compatible base URL ending in /v1.0 instead of the embedded simulator")
    simulate.add_argument(
        "--organizer",
        action="append",
        default=[],
        metavar="OBJECT_ID",
        help="a user the embedded simulator's tenant has, besides the sample organizers (repeatable)",
    )
    simulate.set_defaults(handler=_simulate)

    external_id = commands.add_parser("external-id", help="print the externalId the bridge derives for a source record")
    external_id.add_argument("source")
    external_id.add_argument("record_id", metavar="RECORD_ID")
    external_id.set_defaults(handler=_external_id)
    add_queue_commands(commands)
    return parser


def _simulate(args: argparse.Namespace) -> int:
    try:
        inputs = read_inputs(args.inputs)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_simulation(inputs, graph_url=args.graph_url, organizers=(*DEMO_ORGANIZERS, *args.organizer))


def _external_id(args: argparse.Namespace) -> int:
    try:
        print(derive_external_id(args.source, args.record_id))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
