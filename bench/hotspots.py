"""`python -m bench.hotspots`: where the bridge's CPU per message goes, stage by stage and function by function.

Against the Graph simulator in its own process, at zero added latency:

- stages, in situ: the per-message path is rebuilt step by step from the bridge's own public
  functions (a bare POST, then our GraphClient, then + parse_booking, + the createOrGet body, ...,
  up to the real pipeline and the function entry point). Every variant handles its own copy of each
  booking, interleaved message by message, and a stage's cost is the median of the paired
  per-message differences between consecutive variants. In situ matters: alone in a hot loop a
  stage runs with warm CPU caches and costs several times less than between HTTP calls.
- stages, alone: each step in a hot loop, for contrast.
- cProfile (CPU clock) over the entry point and over the bare POST: the top functions by own
  time, and by own time beyond what the floor spends in the same function.

Writes bench/out/hotspots.json and prints the tables.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import workload
from bench.simulator_process import SimulatorProcess

OUT = Path(__file__).resolve().parent / "out" / "hotspots.json"
Messages = list[tuple[str, bytes]]
# The last variant, compared with the first (the bare POST) rather than the one before it.
DESIGN_FLOOR = "design floor: bare state read + POST + state insert (vs the bare POST)"


class MessagePath:
    """The per-message path built from the bridge's public pieces, one stage more per variant."""

    def __init__(self, host: Any) -> None:
        from azure.identity import ManagedIdentityCredential

        from bench.floor import DesignFloorClient, FloorClient
        from shared.credential import GraphToken
        from shared.graph_client import GraphClient
        from shared.publisher import ResultPublisher, build_service_bus_client
        from shared.runtime import build_record_state_store, get_pipeline
        from shared.settings import load_settings

        settings = load_settings()
        credential = ManagedIdentityCredential()
        self.host = host
        self.floor = FloorClient()
        self.design_floor = DesignFloorClient(self.floor)
        self.states = build_record_state_store(settings, credential)
        self.graph = GraphClient(settings.graph_base_url, GraphToken(credential, settings.graph_scope).bearer)
        self.publisher = ResultPublisher(build_service_bus_client(settings.service_bus, credential), settings.results_queue)
        self.pipeline = get_pipeline()
        self.logger = logging.getLogger("shared.pipeline")

    def variants(self) -> dict[str, tuple[Callable[[str, bytes], object], Callable[[object], object]]]:
        """name -> (prepare(message_id, body) outside the clock, run(prepared) on the clock), in stage order."""
        from shared.booking import parse_booking
        from shared.external_id import derive_external_id
        from shared.meeting import meeting_from_graph
        from shared.meeting_request import build_create_or_get_body
        from shared.pipeline import InboundMessage
        from shared.publisher import to_service_bus_message
        from shared.record_state import RecordState
        from shared.result import ResultMessage, ResultStatus, utc_now

        floor, graph, publisher, logger, states = self.floor, self.graph, self.publisher, self.logger, self.states

        def ready(message_id: str, body: bytes) -> tuple[str, str, bytes, bytes]:
            booking = parse_booking(body)
            request = build_create_or_get_body(booking, derive_external_id(booking.source, booking.record_id))
            return message_id, booking.organizer_id, request, body

        def upto(stage: int) -> Callable[[object], object]:
            def run(prepared: Any) -> object:
                message_id, organizer_id, request, body = prepared
                if stage >= 2:
                    booking = parse_booking(body)
                    organizer_id = booking.organizer_id
                if stage >= 3:
                    external_id = derive_external_id(booking.source, booking.record_id)
                    request = build_create_or_get_body(booking, external_id)
                if stage >= 9:
                    states.read(external_id)
                response = graph.create_or_get(organizer_id, request)
                if stage >= 9:
                    applied = RecordState(external_id, booking.revision, False, organizer_id, response.payload["id"])
                    states.write(applied, expected=None)
                if stage < 4:
                    return response
                meeting = meeting_from_graph(response.payload)
                if stage < 5:
                    return meeting
                result = ResultMessage(
                    status=ResultStatus.CREATED if response.status == 201 else ResultStatus.EXISTING,
                    source=booking.source,
                    record_id=booking.record_id,
                    revision=booking.revision,
                    external_id=external_id,
                    organizer_id=booking.organizer_id,
                    meeting=meeting,
                    error=None,
                    graph_request_id=response.request_id,
                    booking_message_id=message_id,
                    processed_at=utc_now(),
                )
                if stage == 6:
                    return to_service_bus_message(result, message_id, message_id)
                if stage >= 7:
                    publisher.publish_result(result, message_id, message_id)
                if stage >= 8:
                    logger.info(
                        "booking processed status=%s source=%s externalId=%s errorCode=%s graphRequestId=%s "
                        "messageId=%s deliveryCount=%s durationMs=%d",
                        result.status.value,
                        result.source,
                        result.external_id,
                        None,
                        result.graph_request_id,
                        message_id,
                        1,
                        1,
                    )
                return result

            return run

        def post(prepared: Any) -> object:
            return floor.post(prepared)

        def book(prepared: Any) -> object:
            return self.design_floor.book(prepared)

        return {
            "floor: bare requests.Session.post of a ready body": (lambda _id, body: floor.request_for(body), post),
            "GraphClient.create_or_get instead (uuid4, headers, timeout, .json())": (ready, upto(1)),
            "+ parse_booking (json.loads + pydantic Booking)": (ready, upto(2)),
            "+ derive_external_id + build_create_or_get_body": (ready, upto(3)),
            "+ meeting_from_graph (Meeting, DialIn)": (ready, upto(4)),
            "+ ResultMessage": (ready, upto(5)),
            "+ to_service_bus_message (model_dump_json, uuid5, ServiceBusMessage)": (ready, upto(6)),
            "+ publish_result instead (lock, sender, send)": (ready, upto(7)),
            "+ the 'booking processed' log line (formatted, as the worker does)": (ready, upto(8)),
            "+ state read before and insert after Graph (TableRecordStateStore)": (ready, upto(9)),
            "BookingPipeline.handle (the real thing)": (
                lambda message_id, body: InboundMessage(body, message_id),
                self.pipeline.handle,
            ),
            "function entry point (create_meeting, as the host calls it)": (self.host.trigger_message, self.host.invoke),
            DESIGN_FLOOR: (lambda _id, body: floor.request_for(body), book),
        }


def in_situ(path: MessagePath, messages: Messages) -> list[dict[str, Any]]:
    """Median CPU µs per message of each variant, and the median paired increment over the previous variant."""
    variants = path.variants()
    count = len(messages) // len(variants)
    prepared = {
        name: [prepare(*message) for message in messages[n * count : (n + 1) * count]]
        for n, (name, (prepare, _run)) in enumerate(variants.items())
    }
    spent: dict[str, list[float]] = {name: [] for name in variants}
    clock = time.process_time
    for index in range(count):
        for name, (_prepare, run) in variants.items():
            item = prepared[name][index]
            started = clock()
            run(item)
            spent[name].append(1e6 * (clock() - started))
    rows, previous, first = [], None, next(iter(spent))
    for name, samples in spent.items():
        base = first if name == DESIGN_FLOOR else previous
        increment = statistics.median(a - b for a, b in zip(samples, spent[base], strict=True)) if base else None
        rows.append({"stage": name, "median_us": statistics.median(samples), "increment_us": increment})
        previous = name
    return rows


def cpu_us(action: Callable[[], object], repeat: int) -> float:
    """CPU microseconds per call of `action` in a hot loop of `repeat` calls."""
    started = time.process_time()
    for _ in range(repeat):
        action()
    return 1e6 * (time.process_time() - started) / repeat


def alone(path: MessagePath, repeat: int) -> dict[str, float]:
    """Each pure step in a hot loop, on one booking: what it costs with warm caches."""
    from azure.servicebus import ServiceBusMessage

    from shared.booking import parse_booking
    from shared.external_id import derive_external_id
    from shared.meeting import meeting_from_graph
    from shared.meeting_request import build_create_or_get_body
    from shared.publisher import to_service_bus_message
    from shared.result import ResultMessage, ResultStatus, result_message_id, utc_now

    body = workload.booking_body("alone", 0)
    booking = parse_booking(body)
    external_id = derive_external_id(booking.source, booking.record_id)
    request = build_create_or_get_body(booking, external_id)
    response = path.graph.create_or_get(booking.organizer_id, request)
    meeting = meeting_from_graph(response.payload)

    def result() -> ResultMessage:
        return ResultMessage(
            status=ResultStatus.CREATED,
            source=booking.source,
            record_id=booking.record_id,
            revision=booking.revision,
            external_id=external_id,
            organizer_id=booking.organizer_id,
            meeting=meeting,
            error=None,
            graph_request_id=response.request_id,
            booking_message_id="alone",
            processed_at=utc_now(),
        )

    built = result()
    wire = built.model_dump_json(by_alias=True)
    properties: dict[str | bytes, Any] = {"status": "created", "source": "bench"}
    return {
        "parse_booking": cpu_us(lambda: parse_booking(body), repeat),
        "derive_external_id": cpu_us(lambda: derive_external_id(booking.source, booking.record_id), repeat),
        "build_create_or_get_body": cpu_us(lambda: build_create_or_get_body(booking, external_id), repeat),
        "meeting_from_graph": cpu_us(lambda: meeting_from_graph(response.payload), repeat),
        "ResultMessage(...)": cpu_us(result, repeat),
        "ResultMessage.model_dump_json": cpu_us(lambda: built.model_dump_json(by_alias=True), repeat),
        "result_message_id (uuid5)": cpu_us(lambda: result_message_id("alone", ResultStatus.CREATED), repeat),
        "ServiceBusMessage(...)": cpu_us(
            lambda: ServiceBusMessage(
                wire, message_id="m", correlation_id="c", content_type="application/json", application_properties=properties
            ),
            repeat,
        ),
        "to_service_bus_message": cpu_us(lambda: to_service_bus_message(built, "c", "alone"), repeat),
        "publish_result": cpu_us(lambda: path.publisher.publish_result(built, "c", "alone"), repeat),
    }


def profile(run: Callable[[], object], count: int) -> dict[str, dict[str, float]]:
    """cProfile on the CPU clock over `run` (which handles `count` messages): per function, calls and µs per message."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    return {
        f"{_short(filename)}:{line}({name})": {
            "calls": ncalls / count,
            "own_us": 1e6 * own / count,
            "cumulative_us": 1e6 * cumulative / count,
        }
        for (filename, line, name), (_calls, ncalls, own, cumulative, _callers) in stats.stats.items()  # type: ignore[attr-defined]
    }


def profiles(path: MessagePath, ours_messages: Messages, floor_messages: Messages, top: int) -> dict[str, Any]:
    """The top functions by own time through the entry point, and by own time beyond what the floor spends in them."""
    triggers = [path.host.trigger_message(message_id, body) for message_id, body in ours_messages]
    ready = [path.floor.request_for(body) for _, body in floor_messages]

    def ours() -> None:
        for trigger in triggers:
            path.host.invoke(trigger)

    def bare() -> None:
        for request in ready:
            path.floor.post(request)

    ours_profile = profile(ours, len(triggers))
    floor_profile = profile(bare, len(ready))
    empty = {"calls": 0.0, "own_us": 0.0, "cumulative_us": 0.0}
    beyond: list[dict[str, Any]] = [
        {
            "function": function,
            "extra_calls": row["calls"] - floor_profile.get(function, empty)["calls"],
            "extra_own_us": row["own_us"] - floor_profile.get(function, empty)["own_us"],
            "cumulative_us": row["cumulative_us"],
        }
        for function, row in ours_profile.items()
    ]
    rows: list[dict[str, Any]] = [{"function": function, **row} for function, row in ours_profile.items()]
    by_own = sorted(rows, key=lambda row: -row["own_us"])
    return {
        "ours_total_own_us": sum(row["own_us"] for row in ours_profile.values()),
        "floor_total_own_us": sum(row["own_us"] for row in floor_profile.values()),
        "top_own": by_own[:top],
        "top_beyond_floor": sorted(beyond, key=lambda row: -row["extra_own_us"])[:top],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(Path.cwd()) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="messages per variant (default 1000)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    with SimulatorProcess() as simulator:
        os.environ.update(simulator.function_environment())
        from bench.harness import FunctionHost

        host = FunctionHost()
        path = MessagePath(host)
        messages = list(workload.messages("hotspots", 50 + 15 * args.messages))
        for message_id, body in messages[:50]:
            host.invoke(host.trigger_message(message_id, body))
        rest = messages[50:]
        report = {
            "messages_per_variant": args.messages,
            "in_situ": in_situ(path, rest[: 13 * args.messages]),
            "alone_hot_loop_us": alone(path, args.messages),
            "profile": profiles(path, rest[13 * args.messages : 14 * args.messages], rest[14 * args.messages :], args.top),
        }

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'per-message path, variant by variant (CPU µs, median)':<72} {'whole':>7} {'stage':>7}")
    for row in report["in_situ"]:
        increment = "" if row["increment_us"] is None else f"{row['increment_us']:>+7.0f}"
        print(f"{row['stage'][:72]:<72} {row['median_us']:>7.0f} {increment:>7}")
    print(f"\n{'alone, in a hot loop':<40} {'CPU µs':>7}")
    for stage, spent in report["alone_hot_loop_us"].items():
        print(f"{stage:<40} {spent:>7.1f}")
    found = report["profile"]
    print(
        f"\ncProfile on the CPU clock (inflates small calls): own time summed {found['ours_total_own_us']:.0f} µs per message, "
        f"floor {found['floor_total_own_us']:.0f} µs"
    )
    for title, rows, calls, own in (
        ("top own time", found["top_own"], "calls", "own_us"),
        ("top own time beyond the floor's", found["top_beyond_floor"], "extra_calls", "extra_own_us"),
    ):
        print(f"\n{title:<84} {'calls':>6} {'own µs':>7} {'cum µs':>8}")
        for row in rows:
            print(f"{row['function'][:84]:<84} {row[calls]:>6.1f} {row[own]:>7.1f} {row['cumulative_us']:>8.1f}")
    print(f"\nreport: {OUT}")


if __name__ == "__main__":
    main()
