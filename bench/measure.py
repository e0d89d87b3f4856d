"""The measurements that run the function app, each in a fresh process: `python -m bench.measure KIND PARAMS_JSON`.

A fresh process per measurement because the worker indexes the functions once per process,
ru_maxrss is a peak over the process's life, and one run's connections and caches must not
flatter the next. The Graph simulator runs in yet another process (bench.simulator_process),
so process CPU here is the bridge's. The result is one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from typing import Any

from bench import workload
from bench.floor import FloorClient
from bench.harness import FunctionHost, current_rss_bytes, drive, peak_rss_bytes


def per_message(messages: int, warmup: int, block: int) -> dict[str, Any]:
    """Bookings one at a time through the function, interleaved block by block with the floor's bare POSTs.

    Interleaving puts both under the same machine noise; the order inside a block alternates so
    neither always runs first. The floor re-sends the bodies of the same bookings (Graph answers 200
    where the bridge got 201, or the other way round: the same work for the client).
    """
    host = FunctionHost()
    floor = FloorClient()
    items = list(workload.messages("cost", warmup + messages))
    triggers = [FunctionHost.trigger_message(message_id, body) for message_id, body in items]
    requests = [floor.request_for(body) for _, body in items]

    for trigger, (url, body) in zip(triggers[:warmup], requests[:warmup], strict=True):
        host.invoke(trigger)
        floor.post(url, body)

    spent = {"ours": [0.0, 0.0], "floor": [0.0, 0.0]}
    block_ratios: list[float] = []
    floor_statuses: Counter[int] = Counter()

    def ours(chunk: slice) -> None:
        for trigger in triggers[chunk]:
            host.invoke(trigger)

    def bare(chunk: slice) -> None:
        for url, body in requests[chunk]:
            floor_statuses[floor.post(url, body)] += 1

    for number, start in enumerate(range(warmup, warmup + messages, block)):
        chunk = slice(start, min(start + block, warmup + messages))
        order = (("ours", ours), ("floor", bare)) if number % 2 == 0 else (("floor", bare), ("ours", ours))
        block_cpu = {}
        for name, run in order:
            cpu, wall = time.process_time(), time.perf_counter()
            run(chunk)
            block_cpu[name] = time.process_time() - cpu
            spent[name][0] += block_cpu[name]
            spent[name][1] += time.perf_counter() - wall
        if block_cpu["floor"] > 0:
            block_ratios.append(block_cpu["ours"] / block_cpu["floor"])
    floor.close()

    if host.results.total != warmup + messages:
        raise RuntimeError(f"{host.results.total} results published for {warmup + messages} messages")
    return {
        "messages": messages,
        "warmup_messages": warmup,
        "ours_cpu_ms": 1000 * spent["ours"][0] / messages,
        "ours_wall_ms": 1000 * spent["ours"][1] / messages,
        "floor_cpu_ms": 1000 * spent["floor"][0] / messages,
        "floor_wall_ms": 1000 * spent["floor"][1] / messages,
        "cpu_ratio": spent["ours"][0] / spent["floor"][0],
        # Each block's ratio is taken under the same few hundred milliseconds of machine noise.
        "cpu_ratio_median_of_blocks": statistics.median(block_ratios) if block_ratios else None,
        "blocks": len(block_ratios),
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


KINDS = {"per_message": per_message, "throughput": throughput, "throttled": throttled}


def main(argv: list[str]) -> None:
    kind, params = argv[0], json.loads(argv[1])
    print(json.dumps(KINDS[kind](**params)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
