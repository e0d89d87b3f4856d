"""CPU per booking, in a fresh process: `python -m bench.measure PARAMS_JSON` prints one JSON object.

Bookings one at a time through the function entry point as the host calls it, interleaved block by block with the
design floor (bench.floor) re-sending the same bookings, so both run under the same machine noise; the order inside
a block alternates so neither always runs first. A fresh process because the worker indexes the functions once
per process and one run's connections and caches must not flatter the next; the Graph simulator runs in another
process (bench.simulator_process), so process CPU here is the bridge's and the floor's alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench import workload
from bench.floor import DesignFloorClient
from bench.harness import FunctionHost


def per_message(messages: int, warmup: int, block: int) -> dict[str, Any]:
    """Ours and the design floor's CPU and wall time per booking, and the median of their ratio per block."""
    host = FunctionHost()
    floor = DesignFloorClient()
    items = list(workload.messages("cost", warmup + messages))
    triggers = [FunctionHost.trigger_message(message_id, body) for message_id, body in items]
    ready = [floor.request_for(body) for _, body in items]

    for trigger, request in zip(triggers[:warmup], ready[:warmup], strict=True):
        host.invoke(trigger)
        floor.book(request)

    def ours(chunk: slice) -> None:
        for trigger in triggers[chunk]:
            host.invoke(trigger)

    def design(chunk: slice) -> None:
        for request in ready[chunk]:
            floor.book(request)

    sides = {"ours": ours, "design": design}
    spent = {side: [0.0, 0.0] for side in sides}
    block_ratios: list[float] = []
    for number, start in enumerate(range(warmup, warmup + messages, block)):
        chunk = slice(start, min(start + block, warmup + messages))
        block_cpu = {}
        for side in sorted(sides, reverse=number % 2 == 1):
            cpu, wall = time.process_time(), time.perf_counter()
            sides[side](chunk)
            block_cpu[side] = time.process_time() - cpu
            spent[side][0] += block_cpu[side]
            spent[side][1] += time.perf_counter() - wall
        if block_cpu["design"] > 0:
            block_ratios.append(block_cpu["ours"] / block_cpu["design"])
    floor.close()

    if host.results.total != warmup + messages:
        raise RuntimeError(f"{host.results.total} results published for {warmup + messages} messages")
    return {
        "messages": messages,
        "warmup_messages": warmup,
        **{f"{side}_cpu_ms": 1000 * spent[side][0] / messages for side in sides},
        **{f"{side}_wall_ms": 1000 * spent[side][1] / messages for side in sides},
        "design_cpu_ratio": spent["ours"][0] / spent["design"][0],
        # Each block's ratio is taken under the same few hundred milliseconds of machine noise.
        "design_cpu_ratio_median_of_blocks": statistics.median(block_ratios) if block_ratios else None,
        "blocks": len(block_ratios),
        "ours_statuses": dict(host.results.by_status),
    }


def _params(text: str) -> dict[str, int]:
    """PARAMS_JSON: per_message's arguments, as bench.run passes them."""
    try:
        params = json.loads(text)
    except ValueError:
        params = None
    if not (
        isinstance(params, dict)
        and params.keys() == {"messages", "warmup", "block"}
        and all(type(value) is int for value in params.values())
        and params["messages"] >= 1
        and params["warmup"] >= 0
        and params["block"] >= 1
    ):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not {{"messages": 1 or more, "warmup": 0 or more, "block": 1 or more}} in JSON'
        )
    return params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.measure",
        description=__doc__,
        # Only bench.run gives it the Graph simulator's settings, so the example to copy is bench.run's.
        epilog="examples:\n  python -m bench.run   # starts the Graph simulator, then this with the settings it needs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("params", type=_params, metavar="PARAMS_JSON", help="the bookings to measure, in JSON")
    print(json.dumps(per_message(**parser.parse_args(argv).params)), flush=True)


if __name__ == "__main__":
    main()
