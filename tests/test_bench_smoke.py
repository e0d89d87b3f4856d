"""The benchmark runs end to end on a tiny input: both bursts at each instance count, and both guards.

No timing is asserted: these machines are shared, and the benchmark's figures are its own report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_reports_every_burst_and_guard_with_every_booking_created_once(tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--session-idle-timeout", "0.2", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    runs = {(run["scenario"]["name"], run["instances"]) for run in report["bursts"]}
    assert runs == {(name, count) for name in ("calendar", "standalone") for count in (1, 2)}
    for run in report["bursts"]:
        assert run["every_booking_created_once"], run["results_by_status"]
        assert (run["dead_lettered"], run["duplicate_meetings"], run["duplicate_events"]) == (0, 0, 0)
        assert run["bound_seconds"] > 0 and run["graph_requests"] >= run["scenario"]["bookings"]
    calendar = next(run for run in report["bursts"] if run["scenario"]["name"] == "calendar")
    assert calendar["live_events"] == calendar["scenario"]["bookings"]
    assert calendar["mailbox_requests_admitted"] > 0
    assert report["per_message"]["design_cpu_ms"] > 0
    assert report["cold_start"]["runs"] == 1
    measured = {check["measurement"] for check in report["checks"]}
    assert "CPU per booking vs the bare-requests design floor" in measured
    assert any(name.startswith("first result after start") for name in measured)
    assert "measurement" in report["table"]


def test_quick_capacity_table_prints_every_workload_with_every_booking_created_once(tmp_path: Path) -> None:
    out = tmp_path / "capacity.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench.capacity", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [row["workload"] for row in report["rows"]] == ["burst", "calendar", "day"]
    for row in report["rows"]:
        assert row["every_booking_created_once"], row
        assert row["gb_seconds"] > 0 and row["cost_per_1000_bookings"] > 0
    day = report["rows"][2]
    assert day["day_bookings"] == 50_000 and day["day_graph_requests"] >= 50_000
    for text in ("burst: 40 bookings", "calendar: 12 bookings", "50,000 bookings a day", "binds first"):
        assert text in done.stdout
