"""The benchmark runs end to end on a tiny input.

No timing is asserted: these machines are shared, and the benchmark's figures are its own report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SECTIONS = {"per_message", "throughput", "round_trips", "cold_start", "throttling", "memory"}


def test_quick_benchmark_writes_a_report_with_the_six_measurements(tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) >= SECTIONS
    assert report["checks"] and "measurement" in report["table"]
    assert report["throttling"]["lost"] == 0
    assert report["per_message"]["lean_cpu_ms"] > 0  # the bare urllib3 design floor, beside the issue's
    assert [floor["floor"] for floor in report["throughput"]["floors"]] == ["design", "lean"]
    assert any(check["measurement"] == "2 throughput vs the floors at that load" for check in report["checks"])
