"""`python -m bench.run`: the six measurements of issue 6, side by side with their floors, as a table and JSON.

    1 per-message cost     bookings one at a time through the function vs the floors: the design floor (state
                           read, createOrGet, state insert) on plain requests, the same on bare urllib3, and a
                           createOrGet POST alone
    2 throughput           maxConcurrentSessions threads against a Graph that takes --latency-ms per request,
                           over the whole long run, with the spread of its windows; then both design floors
                           under the same load
    3 round-trips          Graph requests, token requests and connections (the simulator's counters), and
                           state table calls by kind (counted at urllib3's connection pool)
    4 cold start           process start to first published result vs importing the dependencies + one call
    5 throttling           against a Graph limited to --rate requests/s (429 + Retry-After beyond)
    6 memory               peak RSS of the throughput run, and growth over a --memory-factor times longer run

The Graph simulator always runs in a process of its own and every measurement of the function
app in a fresh process, so process CPU is the bridge's alone. Both sides of a comparison talk to
the same simulator (a stdlib ThreadingHTTPServer); its own CPU per request is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.simulator_process import SimulatorProcess
from bench.startup import cold_start

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "out" / "latest.json"
_CHILD_TIMEOUT_SECONDS = 1800


def host_settings() -> dict[str, Any]:
    """host.json's Service Bus concurrency settings, which the throughput runs copy."""
    service_bus = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["serviceBus"]
    concurrency = service_bus["maxConcurrentSessions"] * service_bus.get("maxConcurrentCallsPerSession", 1)
    return {"maxConcurrentSessions": concurrency, "prefetchCount": service_bus.get("prefetchCount", 0)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    host = host_settings()
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, help="bookings in the per-message and throughput runs (default 2000)")
    parser.add_argument(
        "--threads",
        type=int,
        default=host["maxConcurrentSessions"],
        help="concurrent invocations (default: host.json maxConcurrentSessions x maxConcurrentCallsPerSession)",
    )
    parser.add_argument("--latency-ms", type=float, help="Graph's added latency, throughput and throttling runs (default 100)")
    parser.add_argument(
        "--send-latency-ms",
        type=float,
        help="an extra throughput run where each Service Bus send takes this long, like an AMQP round trip (default 10; 0: skip)",
    )
    parser.add_argument("--rate", type=float, help="Graph's request limit per second in the throttling run (default 50)")
    parser.add_argument("--throttle-messages", type=int, help="bookings in the throttling run (default: 12 s worth at --rate)")
    parser.add_argument("--memory-factor", type=int, help="the memory run is this many times the throughput run (default 10)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per side; the median is reported (default 15)")
    parser.add_argument("--importtime-runs", type=int, help="-X importtime runs per side (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every measurement, figures meaningless")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default bench/out/latest.json)")
    args = parser.parse_args(argv)
    quick = {"messages": 60, "latency_ms": 20.0, "send_latency_ms": 5.0, "rate": 20.0, "throttle_messages": 40}
    quick |= {"memory_factor": 2, "cold_runs": 1, "importtime_runs": 1}
    full = {"messages": 2000, "latency_ms": 100.0, "send_latency_ms": 10.0, "rate": 50.0}
    full |= {"memory_factor": 10, "cold_runs": 15, "importtime_runs": 3}
    defaults = quick if args.quick else full
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.throttle_messages is None:
        args.throttle_messages = int(12 * args.rate)
    return args


def measure(kind: str, environment: dict[str, str], **params: Any) -> dict[str, Any]:
    """Run one bench.measure child in a fresh process and return its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", kind, json.dumps(params)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement {kind} failed (exit {done.returncode}):\n{done.stderr[-6000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _progress(text: str) -> None:
    print(f"# {datetime.now(UTC):%H:%M:%S} {text}", file=sys.stderr, flush=True)


def cold_start_and_per_message(args: argparse.Namespace) -> dict[str, Any]:
    """Measurements 4 and 1, against a simulator with no added latency."""
    with SimulatorProcess() as simulator:
        environment = simulator.function_environment()
        _progress(f"4 cold start: {args.cold_runs} runs per side, {args.importtime_runs} -X importtime runs per side")
        started = cold_start(environment, simulator.graph_base_url, args.cold_runs, args.importtime_runs)

        _progress(f"1 per-message cost: {args.messages} bookings, interleaved with the floor")
        simulator.reset()
        before = simulator.stats()
        per_message = measure("per_message", environment, messages=args.messages, warmup=min(50, args.messages), block=100)
        after = simulator.stats()
    requests = after["graph_requests"] + after["token_requests"]
    per_message["simulator_cpu_ms_per_request"] = 1000 * (after["cpu_seconds"] - before["cpu_seconds"]) / max(1, requests)
    return {"cold_start": started, "per_message": per_message}


def load_round_trips_and_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Measurements 2, 3 and 6 from one run (the throughput run, continued to --memory-factor times its size)."""
    latency_seconds = args.latency_ms / 1000
    total = args.messages * args.memory_factor
    with SimulatorProcess(latency_seconds=latency_seconds) as simulator:
        _progress(
            f"2+3+6 throughput, round-trips and memory: {args.threads} threads, Graph +{args.latency_ms:g} ms, "
            f"{args.messages} then on to {total} bookings (~{total / (args.threads / latency_seconds):.0f} s at ideal)"
        )
        environment = simulator.function_environment()
        load = measure("throughput", environment, messages=args.messages, factor=args.memory_factor, threads=args.threads)
        stats = simulator.stats()
        throughput = {**load, "latency_ms": args.latency_ms, "ideal_per_second": args.threads / latency_seconds}
        _progress(f"2c the design floors under the same load: {args.messages} bookings each")
        throughput["floors"] = [
            measure("floor_throughput", environment, messages=args.messages, threads=args.threads, floor=floor)
            for floor in ("design", "lean")
        ]
        if args.send_latency_ms:
            _progress(f"2b throughput with a {args.send_latency_ms:g} ms Service Bus send: {args.messages} bookings")
            simulator.reset()
            params = {"messages": args.messages, "factor": 1, "threads": args.threads, "send_latency_ms": args.send_latency_ms}
            with_send = measure("throughput", environment, **params)
            ideal = args.threads / (latency_seconds + args.send_latency_ms / 1000)
            throughput["with_send_latency"] = {**with_send, "latency_ms": args.latency_ms, "ideal_per_second": ideal}

    round_trips = {
        "run": "throughput and memory run",
        "threads": args.threads,
        "messages": total,
        "repeats": load["repeats"],
        "graph_requests": stats["graph_requests"],
        "graph_requests_per_1000": 1000 * stats["graph_requests"] / total,
        "token_requests": stats["token_requests"],
        "token_requests_per_1000": 1000 * stats["token_requests"] / total,
        "connections_opened": stats["connections_opened"],
        "graph_connections": stats["connections_by_target"]["graph"],
        "token_connections": stats["connections_by_target"]["token"],
        "responses_by_status": stats["responses_by_status"],
        "created": total - load["repeats"],
        "deliveries": load["deliveries"],
        "table_calls": load["table_calls"],
    }
    samples = load["memory_samples"]
    end_of_throughput = next(sample for sample in samples if sample["messages"] == args.messages)
    memory = {
        "throughput_messages": args.messages,
        "long_run_messages": total,
        # ru_maxrss is only refreshed on some kernel events, so the current RSS can be above it.
        "peak_rss_bytes": max(end_of_throughput["peak_rss_bytes"], end_of_throughput["rss_bytes"]),
        "long_run_peak_rss_bytes": max(max(sample["peak_rss_bytes"], sample["rss_bytes"]) for sample in samples),
        "rss_growth_bytes": samples[-1]["rss_bytes"] - end_of_throughput["rss_bytes"],
        "samples": samples,
    }
    return {"throughput": throughput, "round_trips": round_trips, "memory": memory}


def throttling(args: argparse.Namespace) -> dict[str, Any]:
    """Measurement 5, against a simulator limited to --rate Graph requests a second."""
    with SimulatorProcess(latency_seconds=args.latency_ms / 1000, rate_limit_per_second=args.rate) as simulator:
        _progress(f"5 throttling: {args.throttle_messages} bookings, {args.threads} threads, Graph limited to {args.rate:g}/s")
        environment = simulator.function_environment()
        throttled = measure("throttled", environment, messages=args.throttle_messages, threads=args.threads, warmup_seconds=2.0)
        stats = simulator.stats()
    return {
        "throttling": {
            **throttled,
            "rate": args.rate,
            "latency_ms": args.latency_ms,
            "graph_requests": stats["graph_requests"],
            "throttled_429": stats["responses_by_status"].get("429", 0),
            "token_requests": stats["token_requests"],
        }
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    load_before = os.getloadavg()
    sections = cold_start_and_per_message(args) | load_round_trips_and_memory(args) | throttling(args)
    checks = (
        report.per_message_checks(sections["per_message"])
        + report.throughput_checks(sections["throughput"])
        + report.round_trip_checks(sections["round_trips"])
        + report.cold_start_checks(sections["cold_start"])
        + report.throttling_checks(sections["throttling"])
        + report.memory_checks(sections["memory"])
    )
    table = report.render_table(checks)
    document = {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(),
            "duration_seconds": round(time.time() - started, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "host_json": host_settings(),
            "arguments": {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()},
        },
        **sections,
        "checks": [check.as_dict() for check in checks],
        "table": table,
    }
    report.write_json(document, args.out)
    print(table)
    print()
    print(report.render_imports(sections["cold_start"]["imports_ms"]))
    print(f"\nreport: {args.out}  ({document['meta']['duration_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
