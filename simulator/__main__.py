"""`python -m simulator --port 8010`: run the simulator until Ctrl-C, for `func start` against it.

Serves POST /v1.0/users/{userId}/onlineMeetings/createOrGet, GET/PATCH/DELETE of
/v1.0/users/{userId}/onlineMeetings/{meetingId} and the identity endpoint /msi/token.
Prints the settings the function app needs, in `export`-able form. `--latency-ms` (with
`--latency-p99-ms`, a spread), `--rate` and `--mailbox-concurrency` give it Graph's latency and
throttling, to watch the app under load.
"""

from __future__ import annotations

import sys
from typing import NoReturn

# argparse's own exit status for a usage error; a port that cannot be listened on is one too.
USAGE_ERROR = 2
# Ctrl-C before the simulator serves: 128 + SIGINT, as shells report an interrupted command (bridgectl's too).
EXIT_INTERRUPTED = 130
PROG = "python -m simulator"


def _interrupted() -> NoReturn:
    sys.stderr.write(f"{PROG}: interrupted before it started serving\n")
    raise SystemExit(EXIT_INTERRUPTED)


# Loading the simulator's modules takes a noticeable moment, in which a person may already press Ctrl-C.
try:
    import argparse
    import math
    import re
    import textwrap
    import threading

    from simulator.graph_simulator import DEFAULT_TENANT_ID, GraphSimulator
except KeyboardInterrupt:
    _interrupted()


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors as one line on stderr, the way an operator greps for them, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


# ASCII only: int() and float() also read other scripts' digits, surrounding spaces, "+" and "_".
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"[-+.0-9a-zA-Z]+")  # what float() reads, "nan" and "1e3" included, refused below if not finite


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0 picks a free one), written as any other program takes a port."""
    if not _INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0-65535")
    return port


def positive_number(text: str) -> float:
    """A finite number above 0 (a rate: 0 or less would refuse every request, which no Graph does)."""
    number = _finite(text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return number


def non_negative_number(text: str) -> float:
    """A finite number, 0 or more (a latency)."""
    number = _finite(text)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is below 0")
    return number


def positive_integer(text: str) -> int:
    """A whole number, 1 or more."""
    if not _INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return number


def _finite(text: str) -> float:
    try:
        if not _NUMBER.fullmatch(text):
            raise ValueError(text)
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return number


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def guid(text: str) -> str:
    """An Entra object, tenant or client id: Graph addresses users by object id with application permissions."""
    if not _GUID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a GUID such as {DEFAULT_TENANT_ID}")
    return text


HELP_WIDTH = 78  # bridgectl's help is written for the same width


def build_parser() -> argparse.ArgumentParser:
    """The options, with a description and examples to copy, as every bridgectl command's --help reads."""
    parser = _OneLineErrors(
        prog=PROG,
        description=textwrap.fill(
            "Run the Graph onlineMeetings + managed identity simulator until Ctrl-C. Routes: "
            "POST /v1.0/users/{userId}/onlineMeetings/createOrGet; GET, PATCH, DELETE "
            "/v1.0/users/{userId}/onlineMeetings/{meetingId}; GET /msi/token. Prints the settings the function app "
            "needs, in export-able form.",
            HELP_WIDTH,
        ),
        epilog="examples:\n"
        + "\n".join(
            f"  {command}"
            for command in (
                f"{PROG} --port 8010",
                f"{PROG} --port 8010 --client-id 2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f   # tokens for this identity only",
                f"{PROG} --port 8010 --deny 6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e   # this organizer answers 403",
                f"{PROG} --port 8010 --latency-ms 150 --latency-p99-ms 900 --rate 50   # Graph's latency and 429s",
                f"{PROG} --port 8010 --mailbox-concurrency 4   # Outlook's requests in progress per mailbox",
            )
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=port_number, default=8010, help="port on 127.0.0.1 (0 picks a free one; default 8010)")
    parser.add_argument("--tenant-id", type=guid, default=DEFAULT_TENANT_ID)
    parser.add_argument(
        "--client-id", type=guid, help="the user-assigned identity's client id; token requests for others get 400"
    )
    parser.add_argument("--organizer", type=guid, action="append", help="a user id that exists (repeatable); default: every GUID")
    parser.add_argument(
        "--deny", type=guid, action="append", default=[], help="a user id without an application access policy (repeatable)"
    )
    parser.add_argument("--no-dial-in", action="store_true", help="organizers have no Audio Conferencing licence")
    parser.add_argument(
        "--latency-ms", type=non_negative_number, default=0, help="added to every Graph answer; its median with --latency-p99-ms"
    )
    parser.add_argument(
        "--latency-p99-ms",
        type=non_negative_number,
        help="the latency's 99th percentile (default: constant)",
    )
    parser.add_argument(
        "--rate",
        type=positive_number,
        help="the tenant's Graph requests per second before answering 429 with Retry-After (default: unlimited)",
    )
    parser.add_argument(
        "--mailbox-concurrency",
        type=positive_integer,
        help="requests in progress on one user's /events before a 429 ApplicationThrottled (Outlook: 4; default: none)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, serve, and stop cleanly on Ctrl-C, before serving as much as while serving."""
    try:
        # Inside: argparse reads its message catalogues as the parser is built, a moment Ctrl-C can arrive in too.
        parser = build_parser()
        args = parser.parse_args(argv)
        simulator = _simulator(parser, args)
    except KeyboardInterrupt:
        _interrupted()
    with simulator:
        try:
            print(f"GRAPH_BASE_URL={simulator.graph_base_url}")
            print(f"IDENTITY_ENDPOINT={simulator.identity_endpoint}")
            print(f"IDENTITY_HEADER={simulator.identity_header}")
            if args.client_id:
                print(f"AZURE_CLIENT_ID={args.client_id}")
            print("# Graph simulator running; Ctrl-C to stop.", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("# stopped")


def _simulator(parser: argparse.ArgumentParser, args: argparse.Namespace) -> GraphSimulator:
    """The simulator the options describe, listening."""
    if args.latency_p99_ms is not None and args.latency_p99_ms < args.latency_ms:
        parser.error(f"argument --latency-p99-ms: {args.latency_p99_ms:g} is below --latency-ms {args.latency_ms:g}")
    if args.latency_p99_ms and not args.latency_ms:
        parser.error("argument --latency-p99-ms: a spread needs a median: set --latency-ms above 0 too")

    simulator = GraphSimulator(
        known_organizers=args.organizer,
        tenant_id=args.tenant_id,
        expected_client_id=args.client_id,
        dial_in=not args.no_dial_in,
        port=args.port,
        latency_seconds=args.latency_ms / 1000,
        latency_p99_seconds=None if args.latency_p99_ms is None else args.latency_p99_ms / 1000,
        rate_limit_per_second=args.rate,
        mailbox_concurrency=args.mailbox_concurrency,
    )
    for user_id in args.deny:
        simulator.deny_organizer(user_id)
    try:
        simulator.start()
    except OSError as error:
        # A port another process holds, or one this user may not bind (below 1024 without privileges).
        parser.exit(USAGE_ERROR, f"{parser.prog}: error: cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}\n")
    return simulator


if __name__ == "__main__":
    main()
