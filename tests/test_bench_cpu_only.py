"""The CPU per booking row runs alone: `bench.run --cpu-only` measures it and nothing else.

No timing is asserted: these machines are shared, and the benchmark's figures are its own report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
USAGE_ERROR = 2


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.run", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_given_cpu_only_when_the_benchmark_runs_then_it_reports_the_cpu_row_alone(tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    done = run_bench("--quick", "--cpu-only", "--out", str(out))

    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["bursts"] == []
    assert "cold_start" not in report
    assert [check["measurement"] for check in report["checks"]] == ["CPU per booking vs the bare-requests design floor"]
    assert report["per_message"]["design_cpu_ms"] > 0
    assert sum(report["per_message"]["ours_statuses"].values()) == 60 + 50  # --quick: 60 measured after 50 to warm up


def test_given_cpu_only_and_burst_only_when_the_benchmark_starts_then_argparse_refuses_both() -> None:
    done = run_bench("--quick", "--cpu-only", "--burst-only")

    assert done.returncode == USAGE_ERROR, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "python -m bench.run: error: argument --burst-only: not allowed with argument --cpu-only"
    )
    assert done.stdout == "", "nothing may look like a measurement"
