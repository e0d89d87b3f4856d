"""Runs the cold-start children (bench.cold_start) several times each, interleaved.

Ours starts from the deployment package infra/package.sh builds, unzipped, as the app runs in Azure:
the bridge's modules with the bytecode shipped beside them. Both sides run in that directory, with
the repository after it on the path for the benchmark's own modules.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.cold_start import BODY, BOOKING, SCOPE, URL
from bench.workload import booking_body

_TIMEOUT_SECONDS = 120
REPO_ROOT = Path(__file__).resolve().parent.parent


def cold_start(environment: dict[str, str], graph_base_url: str, runs: int) -> dict[str, Any]:
    """Median process-start-to-first-result for ours and the floor."""
    with deployed_package() as package:
        return _cold_start({**environment, **_first_message(graph_base_url)}, package, runs)


@contextmanager
def deployed_package() -> Iterator[Path]:
    """The zip deploy.sh publishes (infra/package.sh, with this interpreter's bytecode), unzipped in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-package-") as directory:
        package = Path(directory) / "app.zip"
        built = subprocess.run(
            ["bash", str(REPO_ROOT / "infra" / "package.sh"), str(package)],
            env={**os.environ, "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise RuntimeError(f"infra/package.sh could not build the package (it needs zip):\n{built.stderr}")
        if built.stderr:
            print(built.stderr.strip(), file=sys.stderr)  # e.g. no bytecode: this Python is not the runtime's
        root = Path(directory) / "app"
        with zipfile.ZipFile(package) as archive:
            archive.extractall(root)
        yield root


def _cold_start(environment: dict[str, str], package: Path, runs: int) -> dict[str, Any]:
    # As the runtime starts: the package's own __pycache__, no optimisation (whatever this shell says).
    environment = {name: value for name, value in environment.items() if name not in ("PYTHONPYCACHEPREFIX", "PYTHONOPTIMIZE")}
    environment["PYTHONPATH"] = str(REPO_ROOT)
    for side in ("ours", "floor"):  # once each, unmeasured: the OS file cache, as after any previous start
        _run(side, environment, package)
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "floor": []}
    for _ in range(runs):
        for side in ("ours", "floor"):
            samples[side].append(_run(side, environment, package))

    result: dict[str, Any] = {"runs": runs}
    for side, runs_of_side in samples.items():
        result[side] = {phase: statistics.median(sample[phase] for sample in runs_of_side) for phase in runs_of_side[0]}
        result[side]["all_total_ms"] = [round(sample["total_ms"], 1) for sample in runs_of_side]
    result["ratio"] = result["ours"]["total_ms"] / result["floor"]["total_ms"]
    # Noise only ever adds to a start-up time: the fastest runs are the least disturbed ones.
    result["ratio_of_fastest"] = min(result["ours"]["all_total_ms"]) / min(result["floor"]["all_total_ms"])
    return result


def _first_message(graph_base_url: str) -> dict[str, str]:
    """The booking for ours, and the same booking as the floor's ready URL, body and scope."""
    from shared.booking import parse_booking
    from shared.external_id import derive_external_id
    from shared.meeting_request import build_create_or_get_body
    from shared.settings import graph_scope_for

    body = booking_body("cold", 0)
    booking = parse_booking(body)
    request = build_create_or_get_body(booking, derive_external_id(booking.source, booking.record_id))
    return {
        BOOKING: body.decode("utf-8"),
        URL: f"{graph_base_url}/users/{booking.organizer_id}/onlineMeetings/createOrGet",
        BODY: request.decode("utf-8"),
        SCOPE: graph_scope_for(graph_base_url),
    }


def _run(side: str, environment: dict[str, str], package: Path) -> dict[str, float]:
    """Milliseconds from just before the process started to each moment it reports."""
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.cold_start", side],
        env=environment,
        cwd=package,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start ({side}) failed:\n{done.stderr[-4000:]}")
    moments = json.loads(done.stdout.splitlines()[-1])
    sample = {f"{phase}_ms": 1000 * (moment - spawned) for phase, moment in moments.items()}
    sample["total_ms"] = sample.pop("published_ms")
    return sample
