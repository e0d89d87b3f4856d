"""The benchmark's report: the checks each measurement makes, the printed table, and the JSON file."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


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


def per_message_checks(result: dict[str, Any]) -> list[Check]:
    design_ratio, bare_ratio = result["design_cpu_ratio"], result["cpu_ratio"]
    design_blocks, bare_blocks = result["design_cpu_ratio_median_of_blocks"], result["cpu_ratio_median_of_blocks"]
    lean_blocks = result["lean_cpu_ratio_median_of_blocks"]
    return [
        Check(
            "1 CPU per message vs the design floor",
            f"{result['ours_cpu_ms']:.3f} ms",
            f"read+POST+insert {result['design_cpu_ms']:.3f} ms",
            f"{design_ratio:.2f}x",
            "<= 1.25x floor",
            design_ratio <= 1.25,
        ),
        Check(
            "1 CPU per message vs the same on bare urllib3",
            f"{result['ours_cpu_ms']:.3f} ms",
            f"read+POST+insert, no session {result['lean_cpu_ms']:.3f} ms",
            f"{result['lean_cpu_ratio']:.2f}x",
        ),
        Check(
            "1 CPU per message vs a bare createOrGet POST",
            f"{result['ours_cpu_ms']:.3f} ms",
            f"POST alone {result['floor_cpu_ms']:.3f} ms",
            f"{bare_ratio:.2f}x",
        ),
        Check(
            "1 CPU ratios, median of paired blocks",
            f"{design_blocks:.2f}x / {lean_blocks:.2f}x / {bare_blocks:.2f}x" if design_blocks and bare_blocks else "n/a",
            f"design / lean design / bare floor, {result['blocks']} blocks",
        ),
        Check(
            "1 wall per message",
            f"{result['ours_wall_ms']:.3f} ms",
            f"design {result['design_wall_ms']:.3f}, lean {result['lean_wall_ms']:.3f}, POST {result['floor_wall_ms']:.3f} ms",
            f"{result['ours_wall_ms'] / result['design_wall_ms']:.2f}x",
        ),
        Check(
            "1 simulator CPU per request",
            f"{result['simulator_cpu_ms_per_request']:.3f} ms",
            "same server for all sides",
        ),
    ]


def throughput_checks(result: dict[str, Any]) -> list[Check]:
    ideal = result["ideal_per_second"]
    share = result["long_run_messages_per_second"] / ideal
    windows = sorted(result["window_messages_per_second"])
    return [
        Check(
            f"2 throughput, {result['threads']} threads, Graph +{result['latency_ms']:g} ms",
            f"{result['long_run_messages_per_second']:.1f} msg/s",
            f"ideal {ideal:.1f} msg/s, {result['long_run_messages'] - result['warmup_messages']} msgs in "
            f"{result['long_run_seconds']:.0f} s",
            f"{100 * share:.1f}%",
            ">= 90% of ideal",
            share >= 0.9,
        ),
        Check(
            f"2 spread over {len(windows)} windows of {result['messages']} msgs",
            f"{100 * windows[0] / ideal:.1f}-{100 * windows[-1] / ideal:.1f}%",
            f"median {100 * statistics.median(windows) / ideal:.1f}% of ideal",
        ),
        Check("2 CPU per message at that load", f"{result['long_run_cpu_ms_per_message']:.3f} ms"),
        *_floors_under_load(result.get("floors", []), ideal),
        *_against_the_floors(result["long_run_messages_per_second"], result.get("floors", [])),
        *_with_send_latency(result.get("with_send_latency")),
    ]


def _floors_under_load(floors: list[dict[str, Any]], ideal: float) -> list[Check]:
    """Context for the target: what the bare round trips alone reach under the same load."""
    names = {"design": "2 design floor (requests) at that load", "lean": "2 lean design floor (urllib3) at that load"}
    return [
        Check(
            names[floor["floor"]],
            f"{floor['messages_per_second']:.1f} msg/s",
            f"{floor['messages'] - floor['warmup_messages']} msgs, CPU {floor['cpu_ms_per_message']:.3f} ms per message",
            f"{100 * floor['messages_per_second'] / ideal:.1f}%",
        )
        for floor in floors
    ]


def _against_the_floors(ours: float, floors: list[dict[str, Any]]) -> list[Check]:
    """Ours over each floor's rate under the same load, in the same run: the figure that travels between
    machines (the share of ideal follows the machine's speed; docs/performance.md)."""
    rates = {floor["floor"]: floor["messages_per_second"] for floor in floors}
    if set(rates) != {"design", "lean"}:
        return []
    return [
        Check(
            "2 throughput vs the floors at that load",
            f"{ours:.1f} msg/s",
            f"design {rates['design']:.1f}, lean design {rates['lean']:.1f} msg/s",
            f"{ours / rates['design']:.2f}x / {ours / rates['lean']:.2f}x",
        )
    ]


def _with_send_latency(result: dict[str, Any] | None) -> list[Check]:
    """Context, not a target of the issue: the same run with each Service Bus send taking a round trip."""
    if result is None:
        return []
    share = result["messages_per_second"] / result["ideal_per_second"]
    return [
        Check(
            f"2b same, each Service Bus send {result['send_latency_ms']:g} ms",
            f"{result['messages_per_second']:.1f} msg/s",
            f"ideal {result['ideal_per_second']:.1f} msg/s",
            f"{100 * share:.1f}%",
        )
    ]


def round_trip_checks(result: dict[str, Any]) -> list[Check]:
    return [
        Check(
            "3 Graph requests per 1,000 messages",
            f"{result['graph_requests_per_1000']:.1f}",
            f"{result['messages']} messages, {result['repeats']} unchanged repeats",
            "",
            "1,000",
            result["graph_requests"] == result["messages"],
        ),
        Check(
            "3 token requests",
            f"{result['token_requests']} per process",
            f"{result['token_requests_per_1000']:.2f} per 1,000 messages",
            "",
            "1 per token lifetime",
            result["token_requests"] == 1,
        ),
        Check(
            "3 TCP connections opened",
            f"{result['graph_connections']} to Graph",
            f"+{result['token_connections']} to the identity endpoint; {result['threads']} threads",
            "",
            "Graph <= threads",
            result["graph_connections"] <= result["threads"],
        ),
        *_table_call_checks(result),
    ]


def _table_call_checks(result: dict[str, Any]) -> list[Check]:
    """Every delivery reads once; a new booking inserts once; an unchanged repeat writes nothing."""
    calls, created, repeats = result["table_calls"], result["created"], result["repeats"]
    reads, inserts = calls.get("read", 0), calls.get("insert", 0)
    rewrites = sum(count for kind, count in calls.items() if kind in ("replace", "merge"))
    other = {kind: count for kind, count in calls.items() if kind not in ("read", "insert", "replace", "merge")}
    per_new = (reads / result["deliveries"]) + inserts / max(1, created)
    return [
        Check(
            "3 state table calls per new booking",
            f"{per_new:.2f}",
            f"{reads} reads for {result['deliveries']} deliveries, {inserts} inserts for {created} new",
            "",
            "<= 2",
            per_new <= 2,
        ),
        Check(
            "3 state table writes per unchanged repeat",
            f"{rewrites / max(1, repeats):.2f}",
            f"{rewrites} replaces for {repeats} repeats; also {other or 'nothing else'}",
            "",
            "0",
            rewrites == 0,
        ),
    ]


def cold_start_checks(result: dict[str, Any]) -> list[Check]:
    ours, floor = result["ours"], result["floor"]
    return [
        Check(
            f"4 cold start to first result (median of {result['runs']})",
            f"{ours['total_ms']:.0f} ms",
            f"floor {floor['total_ms']:.0f} ms",
            f"{result['ratio']:.2f}x",
            "<= 1.25x floor",
            result["ratio"] <= 1.25,
        ),
        Check(
            "4 cold start, fastest run of each side",
            f"{min(ours['all_total_ms']):.0f} ms",
            f"floor {min(floor['all_total_ms']):.0f} ms",
            f"{result['ratio_of_fastest']:.2f}x",
        ),
        Check(
            "4 of which imports",
            f"{ours['imported_ms']:.0f} ms",
            f"floor {floor['imported_ms']:.0f} ms",
            f"{ours['imported_ms'] / floor['imported_ms']:.2f}x",
        ),
        Check(
            "4 of which first message after imports",
            f"{ours['total_ms'] - ours['imported_ms']:.1f} ms",
            f"floor {floor['total_ms'] - floor['imported_ms']:.1f} ms",
        ),
    ]


def throttling_checks(result: dict[str, Any]) -> list[Check]:
    share = result["achieved_per_second"] / result["rate"]
    sent = result["graph_requests"] / result["messages"]
    return [
        Check(
            f"5 rate once warm, Graph limited to {result['rate']:g}/s",
            f"{result['achieved_per_second']:.1f} msg/s",
            f"limit {result['rate']:g}/s",
            f"{100 * share:.1f}%",
            ">= 90% of limit",
            share >= 0.9,
        ),
        Check(
            "5 Graph requests per message",
            f"{sent:.2f}",
            f"{result['graph_requests']} requests, {result['throttled_429']} answered 429",
            "",
            "<= 1.2",
            sent <= 1.2,
        ),
        Check(
            "5 messages lost",
            str(result["lost"]),
            f"{result['redeliveries']} redeliveries, {result['dead_lettered']} dead-lettered",
            "",
            "0",
            result["lost"] == 0,
        ),
    ]


def memory_checks(result: dict[str, Any]) -> list[Check]:
    growth = result["rss_growth_bytes"]
    return [
        Check(
            f"6 peak RSS of the throughput run ({result['throughput_messages']} msgs)",
            f"{result['peak_rss_bytes'] / MIB:.1f} MiB",
        ),
        Check(
            f"6 RSS growth, {result['throughput_messages']} -> {result['long_run_messages']} msgs",
            f"{growth / MIB:+.2f} MiB",
            f"peak {result['long_run_peak_rss_bytes'] / MIB:.1f} MiB",
            "",
            "<= 2 MiB (none)",
            growth <= 2 * MIB,
        ),
    ]


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


def render_imports(rows: list[dict[str, Any]]) -> str:
    """Import milliseconds per package (-X importtime self time, each module counted for the package that pulled it in)."""
    columns = ("ours_startup_ms", "ours_first_message_ms", "floor_ms")
    shown = [row for row in rows if row["package"] != "bench" and sum(row[column] for column in columns) >= 0.5]
    lines = [f"{'imports (ms, median)':<26} | {'ours: start-up':>14} | {'ours: 1st message':>17} | {'floor':>7}"]
    lines.append("-" * len(lines[0]))
    for row in shown:
        name = row["package"] + (" (ours)" if row["ours"] else "")
        startup, first_message, floor = (row[column] for column in columns)
        lines.append(f"{name:<26} | {startup:>14.1f} | {first_message:>17.1f} | {floor:>7.1f}")
    startup, first_message, floor = (sum(row[column] for row in shown) for column in columns)
    lines.append(f"{'total':<26} | {startup:>14.1f} | {first_message:>17.1f} | {floor:>7.1f}")
    return "\n".join(lines)
