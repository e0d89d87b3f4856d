"""The benchmark's report: the rows each measurement makes, the printed table, and the JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The targets, each beside the bound or floor measured in the same run.
CPU_PER_BOOKING_VS_FLOOR = 1.25
FIRST_RESULT_VS_FLOOR = 1.5
CALENDAR_DRAIN_VS_BOUND = 1.3
CALENDAR_THROTTLED_SHARE = 0.10
STANDALONE_DRAIN_VS_BOUND = 1.15
STANDALONE_REQUESTS_PER_BOOKING = 1.2


@dataclass(frozen=True)
class Check:
    """One row of the table: what was measured, beside what, and whether it meets its target."""

    measurement: str
    ours: str
    beside: str = ""
    ratio: str = ""
    target: str = ""
    passed: bool | None = None  # None: reported for context, no target

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_checks(result: dict[str, Any]) -> list[Check]:
    ratio, blocks = result["design_cpu_ratio"], result["design_cpu_ratio_median_of_blocks"]
    return [
        Check(
            "CPU per booking vs the bare-requests design floor",
            f"{result['ours_cpu_ms']:.3f} ms",
            f"read+POST+insert {result['design_cpu_ms']:.3f} ms; median of {result['blocks']} paired blocks "
            + (f"{blocks:.2f}x" if blocks is not None else "n/a"),
            f"{ratio:.2f}x",
            f"<= {CPU_PER_BOOKING_VS_FLOOR}x floor",
            ratio <= CPU_PER_BOOKING_VS_FLOOR,
        )
    ]


def cold_start_checks(result: dict[str, Any]) -> list[Check]:
    ours, floor = result["ours"], result["floor"]
    return [
        Check(
            f"first result after start vs its floor (median of {result['runs']})",
            f"{ours['total_ms']:.0f} ms",
            f"floor {floor['total_ms']:.0f} ms; fastest runs {result['ratio_of_fastest']:.2f}x",
            f"{result['ratio']:.2f}x",
            f"<= {FIRST_RESULT_VS_FLOOR}x floor",
            result["ratio"] <= FIRST_RESULT_VS_FLOOR,
        )
    ]


def burst_checks(run: dict[str, Any]) -> list[Check]:
    """A burst's drain beside its bound, its Graph requests, and whether every booking was answered once, created."""
    scenario = run["scenario"]
    shape = f"{run['instances']}x{run['slots_per_instance']}"
    drain, bound, ratio = run["drain_seconds"], run["bound_seconds"], run["ratio"]
    requests, throttled = run["graph_requests"], run["throttled_429"]
    spent = f"{requests} requests, {throttled} answered 429 ({100 * run['throttled_share']:.0f}%)"
    if scenario["calendar"]:
        name = f"calendar, 1 organizer, {scenario['bookings']} bookings, {shape}"
        rows = [
            Check(
                f"{name}: drain",
                f"{drain:.1f} s",
                f"bound {bound:.1f} s: {run['mailbox_requests_admitted']} event requests let through x their latency "
                f"/ {scenario['mailbox_concurrency']}",
                f"{ratio:.2f}x",
                f"<= {CALENDAR_DRAIN_VS_BOUND}x bound",
                ratio <= CALENDAR_DRAIN_VS_BOUND,
            ),
            Check(
                f"{name}: 429 share",
                f"{100 * run['throttled_share']:.0f}%",
                f"{spent}; {run['graph_requests_per_booking']:.2f} per booking",
                "",
                f"<= {100 * CALENDAR_THROTTLED_SHARE:.0f}%",
                run["throttled_share"] <= CALENDAR_THROTTLED_SHARE,
            ),
        ]
    else:
        name = f"standalone, {scenario['organizers']} organizers, {scenario['bookings']} bookings, {shape}"
        rows = [
            Check(
                f"{name}: drain",
                f"{drain:.1f} s",
                f"bound {bound:.1f} s: a request per booking beyond the first second at {scenario['rate']:g}/s, + latency",
                f"{ratio:.2f}x",
                f"<= {STANDALONE_DRAIN_VS_BOUND}x bound",
                ratio <= STANDALONE_DRAIN_VS_BOUND,
            ),
            Check(
                f"{name}: Graph requests per booking",
                f"{run['graph_requests_per_booking']:.2f}",
                spent,
                "",
                f"<= {STANDALONE_REQUESTS_PER_BOOKING}",
                run["graph_requests_per_booking"] <= STANDALONE_REQUESTS_PER_BOOKING,
            ),
        ]
    duplicates = run["duplicate_events"] + run["duplicate_meetings"]
    created = run["results_by_status"].get("created", 0)
    correct = run["every_booking_created_once"] and run["dead_lettered"] == 0 and duplicates == 0
    rows.append(
        Check(
            f"{name}: every booking created once",
            f"{created} created, {run['dead_lettered']} dead-lettered, {duplicates} duplicates",
            f"{run['deliveries']} deliveries, {run['requeued_copies']} re-enqueued, {run['sessions_accepted']} sessions "
            f"accepted; results {run['results_by_status']}",
            "",
            "all; 0; 0",
            correct,
        )
    )
    return rows


def render_table(checks: list[Check]) -> str:
    header = Check("measurement", "ours", "side by side", "ratio", "target", None)
    rows = [header, *checks]
    columns = ("measurement", "ours", "beside", "ratio", "target")
    widths = {column: max(len(getattr(row, column)) for row in rows) for column in columns}

    def line(row: Check, verdict: str) -> str:
        cells = [getattr(row, column).ljust(widths[column]) for column in columns]
        return " | ".join([*cells, verdict]).rstrip()

    rule = "-+-".join("-" * widths[column] for column in columns) + "-+-----"
    verdicts = {True: "ok", False: "MISS", None: ""}
    return "\n".join([line(header, "met"), rule, *(line(row, verdicts[row.passed]) for row in checks)])


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
