"""The benchmark runs end to end on a tiny input, and the simulator's load shaping behaves as Graph's does.

No timing is asserted: these machines are shared, and the benchmark's figures are its own report.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import requests

from simulator import GraphSimulator

REPO_ROOT = Path(__file__).resolve().parent.parent
ORGANIZER = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
BODY = {
    "externalId": "bench-smoke",
    "subject": "Consultation",
    "startDateTime": "2026-12-01T09:00:00Z",
    "endDateTime": "2026-12-01T09:30:00Z",
}
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


def token_for(sim: GraphSimulator) -> str:
    query = {"api-version": "2019-08-01", "resource": sim.origin}
    response = requests.get(sim.identity_endpoint, params=query, headers={"X-IDENTITY-HEADER": sim.identity_header}, timeout=5)
    return response.json()["access_token"]


def create_or_get(sim: GraphSimulator, token: str, session: requests.Session) -> requests.Response:
    url = f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet"
    return session.post(url, json=BODY, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_latency_delays_every_graph_answer_but_not_tokens() -> None:
    with GraphSimulator(latency_seconds=1.0) as sim, requests.Session() as session:
        started = time.monotonic()
        token = token_for(sim)
        token_seconds = time.monotonic() - started
        started = time.monotonic()
        response = create_or_get(sim, token, session)
        graph_seconds = time.monotonic() - started

    assert response.status_code == 201
    assert graph_seconds >= 1.0 > token_seconds


def test_beyond_the_rate_graph_answers_429_with_retry_after_in_whole_seconds() -> None:
    # Half a request a second: the bucket holds one request, so the second in quick succession is throttled.
    with GraphSimulator(rate_limit_per_second=0.5) as sim, requests.Session() as session:
        token = token_for(sim)
        answers = [create_or_get(sim, token, session) for _ in range(2)]
        another_token = token_for(sim)
        stats = sim.stats

    assert [answer.status_code for answer in answers] == [201, 429]
    throttled = answers[1]
    assert throttled.headers["Retry-After"] in {"1", "2"}
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert another_token
    assert stats.graph_requests == 2
    assert stats.responses_by_status[429] == 1


def test_stats_count_the_connections_each_side_used() -> None:
    with GraphSimulator() as sim, requests.Session() as session:
        token = token_for(sim)
        for _ in range(3):
            create_or_get(sim, token, session)
        stats = sim.stats

    assert stats.connections_by_target == {"graph": 1, "token": 1}
    assert stats.connections_opened == 2
