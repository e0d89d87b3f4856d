"""`python -m bench.capacity`: the operators' capacity table, from the host model (bench.burst), in one run.

    burst      5,000 standalone bookings over 500 organizers, sent at once
    calendar   1,000 calendar bookings (sendInvitations false) for one organizer, sent at once
    day        50,000 bookings a day: a sample of bookings over as many organizers, sent one by one at the day's
               average pace (50,000 / 86,400 s, 0.58 a second); the day's figures are the sample's per booking x
               50,000, by arithmetic

Graph, for every workload: a median latency of --latency-ms (p99 twice that), the tenant's rate of --rate requests
a second over every request, and Outlook's 4 requests in progress per mailbox on /users/{id}/events.

Instances: as target-based scaling asks for them (one per maxConcurrentSessions waiting messages, host.json), at
most maximumInstanceCount (infra/main.bicepparam), every one started before the burst; --instances runs another
count. The host's settings are host.json's and infra's, as bench.run reads them.

Cost: Flex Consumption bills an on-demand instance for the periods in which at least one execution is in
progress on it, each period at least 1 s and then in steps of 100 ms, in GB-s of the instance's memory
(instanceMemoryMB), plus every execution (each delivery of a booking). The prices are options: the defaults are
the pay-as-you-go figures docs/capacity.md names, before the monthly free grant.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import burst
from bench.host_settings import infra_integer, read_host_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "out" / "capacity.json"
DAY_SECONDS = 86_400
MAILBOX_CONCURRENCY = 4
# Flex Consumption, on demand, pay as you go (docs/capacity.md names the source and its date).
ON_DEMAND_PRICE_PER_GB_SECOND = 0.000026
PRICE_PER_MILLION_EXECUTIONS = 0.40
# A drain this far above every Graph limit's bound is the instances' session slots' doing (bench.run's standalone target).
SLOTS_BIND_ABOVE = 1.15
MINIMUM_BILLED_PERIOD_SECONDS = 1.0
BILLING_STEP_SECONDS = 0.1

FULL = {"burst_bookings": 5000, "organizers": 500, "calendar_bookings": 1000, "day_bookings": 50_000, "day_sample": 50}
QUICK = {"burst_bookings": 40, "organizers": 8, "calendar_bookings": 12, "day_bookings": 50_000, "day_sample": 4}


@dataclass(frozen=True)
class Prices:
    per_gb_second: float
    per_million_executions: float


def billed_seconds(period: float) -> float:
    """What Flex Consumption bills for one period with an execution in progress: at least 1 s, then 100 ms steps."""
    steps = math.ceil(round(period / BILLING_STEP_SECONDS, 6))
    return max(MINIMUM_BILLED_PERIOD_SECONDS, steps * BILLING_STEP_SECONDS)


def scaled_instances(bookings: int, slots: int, maximum: int) -> int:
    """The instances target-based scaling asks for a queue of `bookings` sessions, within maximumInstanceCount."""
    return max(1, min(maximum, math.ceil(bookings / slots)))


def workloads(args: argparse.Namespace) -> list[burst.Scenario]:
    latency = {"latency_ms": args.latency_ms, "latency_p99_ms": 2 * args.latency_ms}
    limits = {"rate": args.rate, "mailbox_concurrency": MAILBOX_CONCURRENCY}
    return [
        burst.Scenario("burst", args.burst_bookings, args.organizers, calendar=False, **latency, **limits),
        burst.Scenario("calendar", args.calendar_bookings, 1, calendar=True, **latency, **limits),
        burst.Scenario(
            "day",
            args.day_sample,
            args.day_sample,
            calendar=False,
            pace_per_second=args.day_bookings / DAY_SECONDS,
            **latency,
            **limits,
        ),
    ]


def row(run: dict[str, Any], scenario: burst.Scenario, memory_gb: float, prices: Prices, day_bookings: int) -> dict[str, Any]:
    """One workload's figures for the table: drain, instances, Graph's requests and 429s, GB-s, cost, binding limit."""
    bookings = scenario.bookings
    billed = sum(billed_seconds(period) for period in run["instance_busy_periods"])
    gb_seconds = memory_gb * billed
    cost = gb_seconds * prices.per_gb_second + run["deliveries"] * prices.per_million_executions / 1_000_000
    admitted, rate = run["graph_requests"] - run["throttled_429"], _tenant_rate(scenario)
    bounds = {
        "the tenant's Graph rate": max(0.0, admitted - rate) / rate + scenario.latency_ms / 1000,
        "Outlook's 4 requests per mailbox": run["mailbox_busy_seconds"] / MAILBOX_CONCURRENCY,
    }
    if scenario.pace_per_second is not None:
        bounds["the bookings' arrival pace"] = run["bound_seconds"]
    binding, bound = max(bounds.items(), key=lambda item: item[1])
    if run["drain_seconds"] > SLOTS_BIND_ABOVE * bound:
        binding = "the session slots (instances x maxConcurrentSessions)"
    figures = {
        "workload": scenario.name,
        "bookings": bookings,
        "instances": run["instances"],
        "drain_seconds": run["drain_seconds"],
        "bounds_seconds": bounds,
        "binds_first": binding,
        "graph_requests": run["graph_requests"],
        "throttled_429": run["throttled_429"],
        "billed_instance_seconds": billed,
        "gb_seconds": gb_seconds,
        "cost_per_1000_bookings": 1000 * cost / bookings,
        "every_booking_created_once": run["every_booking_created_once"]
        and run["dead_lettered"] == 0
        and run["duplicate_meetings"] + run["duplicate_events"] == 0,
    }
    if scenario.pace_per_second is not None:
        per_day = day_bookings / bookings
        figures |= {
            "day_bookings": day_bookings,
            "day_graph_requests": run["graph_requests"] * per_day,
            "day_throttled_429": run["throttled_429"] * per_day,
            "day_gb_seconds": gb_seconds * per_day,
            "day_cost": cost * per_day,
            "behind_last_send_seconds": run["drain_seconds"] - (bookings - 1) / scenario.pace_per_second,
        }
    return figures


def _tenant_rate(scenario: burst.Scenario) -> float:
    if scenario.rate is None:
        raise ValueError(f"workload {scenario.name} has no tenant rate")
    return scenario.rate


def render(rows: list[dict[str, Any]]) -> str:
    header = ("workload", "drain", "instances", "Graph requests", "429s", "GB-s", "per 1,000 bookings", "binds first")
    lines = []
    for figures in rows:
        per_booking = f"{figures['graph_requests'] / figures['bookings']:.2f} per booking"
        share = f"{100 * figures['throttled_429'] / max(1, figures['graph_requests']):.0f}%"
        if "day_bookings" in figures:
            name = f"{figures['day_bookings']:,} bookings a day (sample of {figures['bookings']} at the day's pace)"
            drain = f"keeps up: last result {figures['behind_last_send_seconds']:.1f} s after the last send"
            requests = f"{figures['day_graph_requests']:,.0f} a day ({per_booking})"
            throttled = f"{figures['day_throttled_429']:,.0f} a day ({share})"
            gb_seconds = f"{figures['day_gb_seconds']:,.0f} a day"
        else:
            name = f"{figures['workload']}: {figures['bookings']:,} bookings"
            drain = f"{figures['drain_seconds']:.0f} s"
            requests = f"{figures['graph_requests']:,} ({per_booking})"
            throttled = f"{figures['throttled_429']:,} ({share})"
            gb_seconds = f"{figures['gb_seconds']:,.0f}"
        if not figures["every_booking_created_once"]:
            name += " (NOT every booking created once)"
        cells = (
            name,
            drain,
            str(figures["instances"]),
            requests,
            throttled,
            gb_seconds,
            f"${figures['cost_per_1000_bookings']:.4f}",
            figures["binds_first"],
        )
        lines.append(cells)
    widths = [max(len(str(cells[column])) for cells in [header, *lines]) for column in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), "-+-".join("-" * width for width in widths), *(line(cells) for cells in lines)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m bench.capacity\n  python -m bench.capacity --rate 20 --latency-ms 400\n"
        "  python -m bench.capacity --instances 8   # what maximumInstanceCount 8 would run",
    )
    parser.add_argument("--rate", type=float, default=40.0, help="the tenant's Graph requests per second (default 40)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="Graph's median latency; p99 twice it (default 200)")
    parser.add_argument("--instances", type=int, help="instances for every workload (default: as scaling asks, capped)")
    parser.add_argument("--burst-bookings", type=int, help="bookings of the standalone burst (default 5000)")
    parser.add_argument("--organizers", type=int, help="organizers of the standalone burst (default 500)")
    parser.add_argument("--calendar-bookings", type=int, help="calendar bookings for the one organizer (default 1000)")
    parser.add_argument("--day-bookings", type=int, help="bookings a day (default 50000)")
    parser.add_argument("--day-sample", type=int, help="bookings sent at the day's pace (default 50)")
    parser.add_argument(
        "--price-per-gb-second", type=float, default=ON_DEMAND_PRICE_PER_GB_SECOND, help="on demand, in USD (default 0.000026)"
    )
    parser.add_argument(
        "--price-per-million-executions", type=float, default=PRICE_PER_MILLION_EXECUTIONS, help="in USD (default 0.40)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, figures meaningless")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default bench/out/capacity.json)")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    positive = ("rate", "latency_ms", "burst_bookings", "organizers", "calendar_bookings", "day_bookings", "day_sample")
    for name in (*positive, *(["instances"] if args.instances is not None else [])):
        if not getattr(args, name) > 0:
            parser.error(f"argument --{name.replace('_', '-')}: must be above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    host = read_host_settings()
    if host.max_concurrent_calls_per_session != 1:
        raise SystemExit("the host model runs one call per session: host.json's maxConcurrentCallsPerSession must be 1")
    memory_mb, maximum = infra_integer("instanceMemoryMB"), infra_integer("maximumInstanceCount")
    model = burst.Model(host)
    prices = Prices(args.price_per_gb_second, args.price_per_million_executions)
    runs, rows = [], []
    for scenario in workloads(args):
        instances = args.instances or scaled_instances(
            1 if scenario.pace_per_second is not None else scenario.bookings, host.max_concurrent_sessions, maximum
        )
        progress = f"{scenario.name}: {scenario.bookings} bookings, {instances} instances"
        print(f"# {datetime.now(UTC):%H:%M:%S} {progress}", file=sys.stderr, flush=True)
        run = burst.run(scenario, instances, model)
        runs.append(run)
        rows.append(row(run, scenario, memory_mb / 1024, prices, args.day_bookings))
    table = render(rows)
    settings = (
        f"host model: {host.max_concurrent_sessions} sessions per instance, {host.worker_threads} worker threads, "
        f"sessionIdleTimeout {host.session_idle_timeout_seconds:g} s, maximumInstanceCount {maximum}, "
        f"{memory_mb} MB instances; Graph: median latency {args.latency_ms:g} ms (p99 x2), tenant rate {args.rate:g}/s, "
        f"{MAILBOX_CONCURRENCY} per mailbox; ${format(prices.per_gb_second, 'f')}/GB-s, ${prices.per_million_executions:.2f} per "
        "million executions, before free grants"
    )
    duration = round(time.time() - started, 1)
    document: dict[str, Any] = {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(),
            "duration_seconds": duration,
            "host": asdict(host),
            "instance_memory_mb": memory_mb,
            "maximum_instance_count": maximum,
            "arguments": {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()},
        },
        "rows": rows,
        "runs": runs,
        "settings": settings,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(settings)
    print(table)
    print(f"\nreport: {args.out}  ({duration:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
