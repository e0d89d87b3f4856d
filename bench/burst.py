"""A burst of bookings through N instance processes that share one Service Bus and one Graph: the host model.

The parent holds the broker (bench.broker) and serves it on loopback; each instance is a spawned process running
the real function behind maxConcurrentSessions session slots (bench.instance); Graph is the project's simulator in
a process of its own, with the scenario's latency and limits; the record state is one table on Azurite. The instances
start, import and index the function first; the burst is sent once every instance is ready (all at once, or at a
steady pace), and the drain is the time from the first send to the last result the results queue kept.

The bounds the figures are put beside:
- a mailbox's concurrency: the mailbox requests Graph let through x the latency each was served / the concurrency
  (no order of those same requests drains sooner);
- the tenant's rate: the requests a burst needs (one per booking) beyond the bucket's first second, at the rate,
  plus the last request's latency;
- a steady pace: the time the last booking is sent, plus the latency.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import instance, workload
from bench.broker import Broker, BrokerServer, Message
from bench.host_settings import HostSettings
from bench.simulator_process import SimulatorProcess
from shared.settings import DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE

_READY_TIMEOUT_SECONDS = 120
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Scenario:
    """A burst: how many bookings over how many organizers, which kind, and the Graph it meets."""

    name: str
    bookings: int
    organizers: int
    calendar: bool
    latency_ms: float
    latency_p99_ms: float
    rate: float | None = None
    mailbox_concurrency: int | None = None
    pace_per_second: float | None = None  # None: every booking at once; else sent one by one at this steady rate


@dataclass(frozen=True)
class Model:
    """The host's settings for the run (host.json and infra, or a value being tried) and a Service Bus round trip."""

    host: HostSettings
    round_trip_ms: float = 10.0
    timeout_seconds: float = 600.0


def run(scenario: Scenario, instances: int, model: Model) -> dict[str, Any]:
    """Send the scenario's burst to `instances` instance processes; what it took and what Graph saw."""
    shape = {
        "latency_seconds": scenario.latency_ms / 1000,
        "latency_p99_seconds": scenario.latency_p99_ms / 1000,
        "rate_limit_per_second": scenario.rate,
        "mailbox_concurrency": scenario.mailbox_concurrency,
    }
    broker = Broker(
        bookings_queue=DEFAULT_BOOKINGS_QUEUE,
        results_queue=DEFAULT_RESULTS_QUEUE,
        max_delivery_count=model.host.max_delivery_count,
        round_trip_seconds=model.round_trip_ms / 1000,
    )
    with SimulatorProcess(**shape) as simulator, BrokerServer(broker) as server:
        environment = simulator.function_environment() | {
            "CALENDAR_EVENTS_ENABLED": "true" if scenario.calendar else "false",
            "BOOKINGS_MAX_DELIVERY_COUNT": str(model.host.max_delivery_count),
        }
        processes = _start(server, instances, model.host, environment)
        try:
            _wait_until(lambda: len(broker.tally.ready_instances) == instances, processes, _READY_TIMEOUT_SECONDS, "ready")
            simulator.reset()  # Graph's counters from the burst on
            bookings = list(workload.burst(scenario.name, scenario.bookings, scenario.organizers, calendar=scenario.calendar))
            sent_at = time.time()
            for number, (message_id, session_id, body) in enumerate(bookings):
                if scenario.pace_per_second is not None:
                    time.sleep(max(0.0, sent_at + number / scenario.pace_per_second - time.time()))
                broker.send(DEFAULT_BOOKINGS_QUEUE, Message(body, message_id, session_id, content_type="application/json"))
            _wait_until(lambda: _settled(broker, len(bookings)), processes, model.timeout_seconds, "drained")
            stats, inventory = simulator.stats(), simulator.inventory()
        finally:
            broker.stop()
            for process in processes:
                process.join(30)
                if process.is_alive():
                    process.kill()
    return _figures(scenario, instances, model, broker, [message_id for message_id, _, _ in bookings], sent_at, stats, inventory)


def _start(server: BrokerServer, instances: int, host: HostSettings, environment: dict[str, str]) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=instance.run,
            args=(server.address, server.authkey, f"instance-{number}"),
            kwargs={
                "slots": host.max_concurrent_sessions,
                "worker_threads": host.worker_threads,
                "session_idle_timeout_seconds": host.session_idle_timeout_seconds,
                "environment": environment,
            },
            name=f"instance-{number}",
            daemon=True,
        )
        for number in range(instances)
    ]
    for process in processes:
        process.start()
    return processes


def _settled(broker: Broker, bookings: int) -> bool:
    """Every booking answered or dead-lettered, and nothing left on the queue (no scheduled copy, nothing in flight)."""
    answered = {result.correlation_id for result in broker.kept_results()}
    return len(answered) + len(broker.tally.dead_lettered) >= bookings and broker.idle()


def _wait_until(condition: Any, processes: list[Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if any(process.exitcode not in (None, 0) for process in processes):
            raise RuntimeError(f"an instance process failed before the burst was {what} (its traceback is above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the burst was not {what} within {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)


def _figures(
    scenario: Scenario,
    instances: int,
    model: Model,
    broker: Broker,
    message_ids: list[str],
    sent_at: float,
    stats: dict[str, Any],
    inventory: dict[str, Any],
) -> dict[str, Any]:
    results = broker.kept_results()
    statuses: dict[str, dict[str, int]] = {}
    for result in results:
        by_status = statuses.setdefault(str(result.correlation_id), {})
        by_status[result.status] = by_status.get(result.status, 0) + 1
    load = stats["load"]
    graph_requests = stats["graph_requests"]
    throttled = load["throttled_by_tenant_rate"] + load["throttled_by_mailbox"]
    drain = max(result.at for result in results) - sent_at if results else float("nan")
    bound = _bound(scenario, load)
    all_created = all(statuses.get(message_id) == {"created": 1} for message_id in message_ids)
    return {
        "scenario": asdict(scenario),
        "instances": instances,
        "slots_per_instance": model.host.max_concurrent_sessions,
        "session_idle_timeout_seconds": model.host.session_idle_timeout_seconds,
        "round_trip_ms": model.round_trip_ms,
        "drain_seconds": drain,
        "bound_seconds": bound,
        "ratio": drain / bound if bound else None,
        "graph_requests": graph_requests,
        "graph_requests_per_booking": graph_requests / scenario.bookings,
        "throttled_429": throttled,
        "throttled_share": throttled / graph_requests if graph_requests else 0.0,
        "throttled_by_tenant_rate": load["throttled_by_tenant_rate"],
        "throttled_by_mailbox": load["throttled_by_mailbox"],
        "mailbox_requests_admitted": load["mailbox_requests_admitted"],
        "latency_p50_ms": load["latency_p50_ms"],
        "latency_p99_ms": load["latency_p99_ms"],
        "token_requests": stats["token_requests"],
        "results_by_status": _count(result.status for result in results),
        "every_booking_created_once": all_created,
        "dead_lettered": len(broker.tally.dead_lettered),
        "deliveries": broker.tally.deliveries,
        "requeued_copies": broker.tally.bookings_sent - scenario.bookings,
        "sessions_accepted": broker.tally.sessions_accepted,
        "cpu_ms_per_booking": 1000 * sum(broker.tally.instance_cpu_seconds.values()) / scenario.bookings,
        "mailbox_busy_seconds": load["mailbox_busy_seconds"],
        "instance_busy_periods": [period for periods in broker.tally.instance_busy_periods.values() for period in periods],
        **inventory,
    }


def _bound(scenario: Scenario, load: dict[str, Any]) -> float:
    """The least time the scenario's binding limit allows (module docstring)."""
    if scenario.pace_per_second is not None:
        return (scenario.bookings - 1) / scenario.pace_per_second + scenario.latency_ms / 1000
    if scenario.mailbox_concurrency is not None:
        return float(load["mailbox_busy_seconds"]) / scenario.mailbox_concurrency
    if scenario.rate is not None:
        first_second = max(1.0, scenario.rate)
        return max(0.0, scenario.bookings - first_second) / scenario.rate + scenario.latency_ms / 1000
    raise ValueError(f"scenario {scenario.name} has no limit to bound it")


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
