"""The measurements that run the function app, each in a fresh process: `python -m bench.measure KIND PARAMS_JSON`.

A fresh process per measurement because the worker indexes the functions once per process,
ru_maxrss is a peak over the process's life, and one run's connections and caches must not
flatter the next. The Graph simulator runs in yet another process (bench.simulator_process),
so process CPU here is the bridge's. The result is one JSON object on the last line of stdout.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import workload
from bench.floor import DesignFloorClient, FloorClient, LeanDesignFloorClient, state_connection_fields
from bench.harness import FunctionHost, TableCalls, current_rss_bytes, drive, peak_rss_bytes


def per_message(messages: int, warmup: int, block: int) -> dict[str, Any]:
    """Bookings one at a time through the function, interleaved block by block with the floors.

    Interleaving puts all three under the same machine noise; the order inside a block rotates so
    none always runs first. The floors re-send the bodies of the same bookings (Graph answers 200
    where the bridge got 201, or the other way round: the same work for the client); the design
    floors' state rows go to tables of their own, so, like ours, they read nothing and insert.
    The lean design floor (the same round trips on bare urllib3) is context, not a target.
    """
    host = FunctionHost()
    floor = FloorClient()
    design = DesignFloorClient(floor)
    lean = LeanDesignFloorClient(floor)
    items = list(workload.messages("cost", warmup + messages))
    triggers = [FunctionHost.trigger_message(message_id, body) for message_id, body in items]
    ready = [floor.request_for(body) for _, body in items]

    for trigger, request in zip(triggers[:warmup], ready[:warmup], strict=True):
        host.invoke(trigger)
        floor.post(request)
        design.book(request)
        lean.book(request)

    sides = ("ours", "design", "lean", "floor")
    spent = {side: [0.0, 0.0] for side in sides}
    block_ratios: dict[str, list[float]] = {"design": [], "lean": [], "floor": []}
    floor_statuses: Counter[int] = Counter()

    def ours(chunk: slice) -> None:
        for trigger in triggers[chunk]:
            host.invoke(trigger)

    def bare(chunk: slice) -> None:
        for request in ready[chunk]:
            floor_statuses[floor.post(request)] += 1

    def designed(chunk: slice) -> None:
        for request in ready[chunk]:
            design.book(request)

    def leanly(chunk: slice) -> None:
        for request in ready[chunk]:
            lean.book(request)

    runs = {"ours": ours, "design": designed, "lean": leanly, "floor": bare}
    for number, start in enumerate(range(warmup, warmup + messages, block)):
        chunk = slice(start, min(start + block, warmup + messages))
        block_cpu = {}
        turn = number % len(sides)
        for side in sides[turn:] + sides[:turn]:
            cpu, wall = time.process_time(), time.perf_counter()
            runs[side](chunk)
            block_cpu[side] = time.process_time() - cpu
            spent[side][0] += block_cpu[side]
            spent[side][1] += time.perf_counter() - wall
        for side, ratios in block_ratios.items():
            if block_cpu[side] > 0:
                ratios.append(block_cpu["ours"] / block_cpu[side])
    floor.close()
    design.close()
    lean.close()

    if host.results.total != warmup + messages:
        raise RuntimeError(f"{host.results.total} results published for {warmup + messages} messages")
    return {
        "messages": messages,
        "warmup_messages": warmup,
        **{f"{side}_cpu_ms": 1000 * spent[side][0] / messages for side in sides},
        **{f"{side}_wall_ms": 1000 * spent[side][1] / messages for side in sides},
        "cpu_ratio": spent["ours"][0] / spent["floor"][0],
        "design_cpu_ratio": spent["ours"][0] / spent["design"][0],
        "lean_cpu_ratio": spent["ours"][0] / spent["lean"][0],
        # Each block's ratio is taken under the same few hundred milliseconds of machine noise.
        "cpu_ratio_median_of_blocks": statistics.median(block_ratios["floor"]) if block_ratios["floor"] else None,
        "design_cpu_ratio_median_of_blocks": statistics.median(block_ratios["design"]) if block_ratios["design"] else None,
        "lean_cpu_ratio_median_of_blocks": statistics.median(block_ratios["lean"]) if block_ratios["lean"] else None,
        "blocks": len(block_ratios["floor"]),
        "ours_statuses": dict(host.results.by_status),
        "floor_statuses": {str(status): count for status, count in floor_statuses.items()},
        "log_records_forwarded": host.log_handler.forwarded,
    }


def throughput(messages: int, factor: int, threads: int, send_latency_ms: float = 0.0) -> dict[str, Any]:
    """`messages` through `threads` concurrent invocations (the throughput run), then on to `factor` times as many.

    Time and memory are sampled at completion counts: after warm-up, at the end of the
    throughput run, and at every further multiple of `messages`, up to the long run's end.
    """
    host = FunctionHost(send_latency_seconds=send_latency_ms / 1000)
    table_calls = TableCalls(state_connection_fields()["TableEndpoint"])
    table_calls.install()
    total = messages * factor
    warm = min(max(2 * threads, messages // 10), messages - 1)
    checkpoints = {warm, *(messages * k for k in range(1, factor + 1))}
    marks: dict[int, dict[str, float]] = {}

    def on_completed(count: int) -> None:
        if count in checkpoints:
            marks[count] = {
                "at": time.perf_counter(),
                "cpu": time.process_time(),
                "rss": current_rss_bytes(),
                "peak_rss": peak_rss_bytes(),
            }

    repeat_every = 5
    outcome = drive(host, workload.messages("load", total, repeat_every=repeat_every), threads, on_completed)
    created = workload.distinct_records(total, repeat_every)
    expected = {status: count for status, count in (("created", created), ("existing", total - created)) if count}
    if dict(host.results.by_status) != expected or outcome.dead_lettered:
        raise RuntimeError(
            f"published {dict(host.results.by_status)}, expected {expected}; dead-lettered {outcome.dead_lettered}"
        )

    start, end = marks[warm], marks[messages]
    # Each further `messages` is a window as long as the first: their spread says how stable the rate is.
    edges = [warm, *(messages * k for k in range(1, factor + 1))]
    windows = [(b - a) / (marks[b]["at"] - marks[a]["at"]) for a, b in itertools.pairwise(edges)]
    return {
        "threads": threads,
        "send_latency_ms": send_latency_ms,
        "messages": messages,
        "warmup_messages": warm,
        "long_run_messages": total,
        "repeats": total - created,
        "deliveries": outcome.deliveries,
        "messages_per_second": (messages - warm) / (end["at"] - start["at"]),
        "messages_per_second_from_start": messages / (end["at"] - outcome.started),
        "cpu_ms_per_message": 1000 * (end["cpu"] - start["cpu"]) / (messages - warm),
        "long_run_messages_per_second": (total - warm) / (marks[total]["at"] - start["at"]),
        "long_run_seconds": marks[total]["at"] - start["at"],
        "long_run_cpu_ms_per_message": 1000 * (marks[total]["cpu"] - start["cpu"]) / (total - warm),
        "window_messages_per_second": windows,
        "table_calls": dict(table_calls.by_kind),
        "memory_samples": [
            {"messages": count, "rss_bytes": int(marks[count]["rss"]), "peak_rss_bytes": int(marks[count]["peak_rss"])}
            for count in sorted(marks)
        ],
        "statuses": dict(host.results.by_status),
    }


def throttled(messages: int, threads: int, warmup_seconds: float) -> dict[str, Any]:
    """`messages` through `threads` invocations against a rate-limited Graph; every message must be answered."""
    host = FunctionHost(keep_ids=True)
    items = list(workload.messages("throttle", messages))
    completed_at: list[float] = []
    outcome = drive(host, items, threads, lambda _count: completed_at.append(time.perf_counter()))

    window_start = outcome.started + warmup_seconds
    window_end = outcome.queue_drained
    if window_end - window_start < 1.0:  # too small a run to have a warm phase: use all of it
        window_start, window_end = outcome.started, outcome.finished
    in_window = sum(1 for moment in completed_at if window_start <= moment <= window_end)
    answered = host.results.answered or set()
    lost = [message_id for message_id, _ in items if message_id not in answered and message_id not in outcome.dead_lettered]
    return {
        "threads": threads,
        "messages": messages,
        "published": host.results.total,
        "deliveries": outcome.deliveries,
        "redeliveries": outcome.deliveries - messages,
        "dead_lettered": len(outcome.dead_lettered),
        "lost": len(lost),
        "statuses": dict(host.results.by_status),
        "warmup_seconds": warmup_seconds,
        "window_seconds": window_end - window_start,
        "achieved_per_second": in_window / (window_end - window_start),
        "overall_per_second": messages / (outcome.finished - outcome.started),
        "duration_seconds": outcome.finished - outcome.started,
    }


def floor_throughput(messages: int, threads: int, floor: str) -> dict[str, Any]:
    """A design floor (`design`: requests, as issue 12 defines it; `lean`: bare urllib3) under the throughput run's load.

    Context for the throughput target: the same threads against the same slowed Graph and the same
    Azurite, making only the round trips ordering needs, with nothing else to do between them.
    """
    client = FloorClient()
    booker = DesignFloorClient(client) if floor == "design" else LeanDesignFloorClient(client)
    ready = [client.request_for(body) for _, body in workload.messages(f"floor-load-{floor}", messages)]
    warm = min(max(2 * threads, messages // 10), messages - 1)
    pending = iter(ready)
    lock = threading.Lock()
    finished: list[float] = []
    cpu: dict[int, float] = {}

    def work() -> None:
        while True:
            with lock:
                request = next(pending, None)
            if request is None:
                return
            booker.book(request)
            with lock:
                finished.append(time.perf_counter())
                if len(finished) in (warm, messages):
                    cpu[len(finished)] = time.process_time()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    booker.close()
    client.close()
    return {
        "floor": floor,
        "threads": threads,
        "messages": messages,
        "warmup_messages": warm,
        "messages_per_second": (messages - warm) / (finished[-1] - finished[warm - 1]),
        "cpu_ms_per_message": 1000 * (cpu[messages] - cpu[warm]) / (messages - warm),
    }


KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "per_message": per_message,
    "throughput": throughput,
    "throttled": throttled,
    "floor_throughput": floor_throughput,
}


def main(argv: list[str]) -> None:
    kind, params = argv[0], json.loads(argv[1])
    print(json.dumps(KINDS[kind](**params)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
