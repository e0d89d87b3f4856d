"""`python -m bench.run`: bursts of bookings through N instances sharing one Graph, and two guards, beside their bounds.

    burst       a burst sent to 1, 4 and 8 instance processes of the host model (bench.burst), each running the
                real function behind host.json's maxConcurrentSessions session slots, against the Graph simulator:
                - calendar: one organizer's calendar bookings (sendInvitations false), Outlook's concurrent requests
                  per mailbox; the drain beside the bound the mailbox's slots set, and the share answered 429;
                - standalone: meetings over many organizers under a tenant-wide rate; the drain beside the rate's
                  bound, and Graph requests per booking;
                - every booking answered `created` once, none dead-lettered, no second meeting or event.
    guards      CPU per booking through the function entry point vs the bare-requests design floor (bench.floor),
                interleaved in one process; and process start to first result vs a floor that imports the runtime
                dependencies and makes one call (bench.startup), median of --cold-runs each.

The Graph simulator runs in a process of its own, so no CPU figure includes it. Ratios travel between machines,
absolute times do not: every figure is put beside a floor or bound taken in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import burst, report
from bench.host_settings import HostSettings, read_host_settings
from bench.simulator_process import SimulatorProcess
from bench.startup import cold_start

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "out" / "latest.json"
_CHILD_TIMEOUT_SECONDS = 1800

FULL = {
    "instances": "1,4,8",
    "calendar_bookings": 120,
    "calendar_latency_ms": 200.0,
    "standalone_bookings": 600,
    "organizers": 60,
    "standalone_latency_ms": 100.0,
    "rate": 40.0,
    "messages": 2000,
    "cold_runs": 15,
}
QUICK = {
    "instances": "1,2",
    "calendar_bookings": 12,
    "calendar_latency_ms": 20.0,
    "standalone_bookings": 30,
    "organizers": 6,
    "standalone_latency_ms": 20.0,
    "rate": 20.0,
    "messages": 60,
    "cold_runs": 1,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", help="instance processes per burst, comma-separated (default 1,4,8)")
    parser.add_argument("--calendar-bookings", type=int, help="calendar bookings for the one organizer (default 120)")
    parser.add_argument("--calendar-latency-ms", type=float, help="Graph's median latency, calendar burst (default 200)")
    parser.add_argument("--standalone-bookings", type=int, help="standalone bookings (default 600)")
    parser.add_argument("--organizers", type=int, help="organizers the standalone bookings are spread over (default 60)")
    parser.add_argument("--standalone-latency-ms", type=float, help="Graph's median latency, standalone burst (default 100)")
    parser.add_argument("--rate", type=float, help="the tenant's Graph requests per second, standalone burst (default 40)")
    parser.add_argument("--latency-p99-factor", type=float, default=2.0, help="Graph's p99 latency over its median (default 2)")
    parser.add_argument("--mailbox-concurrency", type=int, default=4, help="Outlook's concurrent requests per mailbox (4)")
    parser.add_argument(
        "--session-idle-timeout", type=float, help="seconds a slot waits for its session's next message (default: host.json)"
    )
    parser.add_argument(
        "--max-concurrent-sessions", type=int, help="session slots per instance (default: host.json's maxConcurrentSessions)"
    )
    parser.add_argument(
        "--worker-threads", type=int, help="Python worker threads per instance (default: infra's PYTHON_THREADPOOL_THREAD_COUNT)"
    )
    parser.add_argument("--round-trip-ms", type=float, default=10.0, help="one Service Bus operation (default 10)")
    parser.add_argument("--messages", type=int, help="bookings in the CPU guard (default 2000)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per side; the median is reported (default 15)")
    alone = parser.add_mutually_exclusive_group()
    alone.add_argument("--burst-only", action="store_true", help="the bursts alone, without the guards")
    alone.add_argument("--cpu-only", action="store_true", help="the CPU per booking guard alone: no burst, no cold start")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every measurement, figures meaningless")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default bench/out/latest.json)")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.instances = [int(count) for count in args.instances.split(",")]
    except ValueError:
        parser.error(f"argument --instances: {args.instances!r} is not a comma-separated list of numbers")
    if args.session_idle_timeout is not None and not args.session_idle_timeout > 0:
        parser.error("argument --session-idle-timeout: must be above 0 (Service Bus refuses 0)")
    for name in ("max_concurrent_sessions", "worker_threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"argument --{name.replace('_', '-')}: must be 1 or more")
    return args


def host_settings(args: argparse.Namespace) -> HostSettings:
    """host.json's and infra's settings, with the values given on the command line in their place."""
    host = read_host_settings()
    given = {
        "session_idle_timeout_seconds": args.session_idle_timeout,
        "max_concurrent_sessions": args.max_concurrent_sessions,
        "worker_threads": args.worker_threads,
    }
    host = replace(host, **{name: value for name, value in given.items() if value is not None})
    if host.max_concurrent_calls_per_session != 1:
        raise SystemExit("the host model runs one call per session: host.json's maxConcurrentCallsPerSession must be 1")
    return host


def scenarios(args: argparse.Namespace) -> list[burst.Scenario]:
    return [
        burst.Scenario(
            "calendar",
            args.calendar_bookings,
            1,
            calendar=True,
            latency_ms=args.calendar_latency_ms,
            latency_p99_ms=args.calendar_latency_ms * args.latency_p99_factor,
            mailbox_concurrency=args.mailbox_concurrency,
        ),
        burst.Scenario(
            "standalone",
            args.standalone_bookings,
            args.organizers,
            calendar=False,
            latency_ms=args.standalone_latency_ms,
            latency_p99_ms=args.standalone_latency_ms * args.latency_p99_factor,
            rate=args.rate,
        ),
    ]


def bursts(args: argparse.Namespace, model: burst.Model) -> list[dict[str, Any]]:
    runs = []
    for scenario in scenarios(args):
        for instances in args.instances:
            _progress(
                f"burst {scenario.name}: {scenario.bookings} bookings, {instances} instances x "
                f"{model.host.max_concurrent_sessions} sessions, {model.host.worker_threads} threads, sessionIdleTimeout "
                f"{model.host.session_idle_timeout_seconds:g} s"
            )
            runs.append(burst.run(scenario, instances, model))
    return runs


def guards(args: argparse.Namespace) -> dict[str, Any]:
    """Cold start (not with --cpu-only), then CPU per booking, against a simulator with no added latency."""
    with SimulatorProcess() as simulator:
        environment = simulator.function_environment()
        measured: dict[str, Any] = {}
        if not args.cpu_only:
            _progress(f"first result after start: {args.cold_runs} runs per side")
            measured["cold_start"] = cold_start(environment, simulator.graph_base_url, args.cold_runs)
        _progress(f"CPU per booking: {args.messages} bookings, interleaved with the design floor")
        measured["per_message"] = _measure(environment, messages=args.messages, warmup=min(50, args.messages), block=100)
    return measured


def _measure(environment: dict[str, str], **params: Any) -> dict[str, Any]:
    """Run bench.measure in a fresh process and return its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", json.dumps(params)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the CPU measurement failed (exit {done.returncode}):\n{done.stderr[-6000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _progress(text: str) -> None:
    print(f"# {datetime.now(UTC):%H:%M:%S} {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    load_before = os.getloadavg()
    host = host_settings(args)
    model = burst.Model(host, round_trip_ms=args.round_trip_ms)

    runs = [] if args.cpu_only else bursts(args, model)
    sections: dict[str, Any] = {"bursts": runs}
    checks = [check for run in runs for check in report.burst_checks(run)]
    if not args.burst_only:
        sections |= guards(args)
        checks += report.cpu_checks(sections["per_message"])
        if "cold_start" in sections:
            checks += report.cold_start_checks(sections["cold_start"])
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
            "host": asdict(host),
            "arguments": {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()},
        },
        **sections,
        "checks": [check.as_dict() for check in checks],
        "table": table,
    }
    report.write_json(document, args.out)
    print(
        f"host model: {host.max_concurrent_sessions} sessions per instance, sessionIdleTimeout "
        f"{host.session_idle_timeout_seconds:g} s, {host.worker_threads} worker threads, maxDeliveryCount "
        f"{host.max_delivery_count}, Service Bus round trip {args.round_trip_ms:g} ms; Graph latency p99 = "
        f"{args.latency_p99_factor:g} x median"
    )
    print(table)
    print(f"\nreport: {args.out}  ({document['meta']['duration_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
