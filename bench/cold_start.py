"""Cold start: process start to first published result, against a floor that only imports and calls Graph once.

`python -m bench.cold_start ours` imports function_app, indexes it as the worker does and handles
one message; `python -m bench.cold_start floor` imports the runtime dependencies (azure.functions,
azure.identity, azure.servicebus, requests, pydantic), fetches a token the same way and sends one
createOrGet. Both print the moments (time.time()) they reached, as JSON; the parent measures from
just before it started the process. Only the standard library is imported before the clock's
first reading, so neither side pays for the benchmark's own code.
"""

from __future__ import annotations

import json
import os
import sys
import time

# The parent passes what both sides need in the environment, and the side as the one argument: no argument parsing,
# no imports on the measured path.
URL, BODY, BOOKING, SCOPE = "BENCH_URL", "BENCH_CREATE_OR_GET_BODY", "BENCH_BOOKING", "BENCH_SCOPE"


def ours() -> dict[str, float]:
    started = time.time()
    from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
    from azure.servicebus import ServiceBusSender

    import function_app

    imported = time.time()
    moments: dict[str, float] = {}

    def send_messages(sender: object, message: object, *args: object, **kwargs: object) -> None:
        moments["published"] = time.time()

    ServiceBusSender.send_messages = send_messages  # type: ignore[method-assign,assignment]
    functions = {function.get_function_name(): function for function in function_app.app.get_functions()}
    indexed = time.time()
    from devtools.invocation import HostContext  # the worker's own context type, outside the measured imports

    message = TriggerMessage(
        body=os.environ[BOOKING].encode("utf-8"),
        message_id=f"cold-start-{os.getpid()}",
        delivery_count=1,
        content_type="application/json",
        application_properties={},
        user_properties={},
    )
    functions["create_meeting"].get_user_function()(message, HostContext())
    return {"started": started, "imported": imported, "indexed": indexed, **moments}


def floor() -> dict[str, float]:
    started = time.time()
    import azure.functions
    import azure.identity
    import azure.servicebus
    import pydantic
    import requests

    del azure.functions, azure.servicebus, pydantic
    imported = time.time()
    token = azure.identity.ManagedIdentityCredential().get_token(os.environ[SCOPE]).token
    response = requests.Session().post(
        os.environ[URL],
        data=os.environ[BODY].encode("utf-8"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=(3.05, 20),
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"createOrGet answered {response.status_code}: {response.text}")
    return {"started": started, "imported": imported, "published": time.time()}


SIDES = {"ours": ours, "floor": floor}


def _side(argv: list[str]) -> str:
    """The side bench.startup names, as it is; anything else (--help, a typo, nothing) is argparse's to answer, off
    the measured path."""
    if len(argv) == 1 and argv[0] in SIDES:
        return argv[0]
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start",
        description=__doc__,
        epilog="examples:\n  python -m bench.run   # starts the Graph simulator, then both sides, several times each",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("side", choices=SIDES, help="ours: the function app; floor: the runtime dependencies alone")
    return str(parser.parse_args(argv).side)


if __name__ == "__main__":
    print(json.dumps(SIDES[_side(sys.argv[1:])]()), flush=True)
