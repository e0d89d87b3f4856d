"""What the burst model reads from the project: host.json's Service Bus trigger settings and infra's own values.

host.json: maxConcurrentSessions, maxConcurrentCallsPerSession and sessionIdleTimeout (a .NET TimeSpan,
"[d.]hh:mm:ss[.fffffff]"). infra/main.bicepparam: the bookings queue's maxDeliveryCount and the Python worker's
threads (PYTHON_THREADPOOL_THREAD_COUNT, which infra sets from workerThreadCount); infra_integer reads any other
integer parameter main.bicepparam sets (the capacity table reads instanceMemoryMB and maximumInstanceCount).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_TIMESPAN = re.compile(r"(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{2}):(?P<seconds>\d{2}(?:\.\d{1,7})?)")


@dataclass(frozen=True)
class HostSettings:
    max_concurrent_sessions: int
    max_concurrent_calls_per_session: int
    session_idle_timeout_seconds: float
    max_delivery_count: int
    worker_threads: int


def read_host_settings(root: Path = REPO_ROOT) -> HostSettings:
    """The settings as deployed: host.json and infra/main.bicepparam of the checkout at `root`."""
    service_bus = json.loads((root / "host.json").read_text(encoding="utf-8"))["extensions"]["serviceBus"]
    parameters = (root / "infra" / "main.bicepparam").read_text(encoding="utf-8")
    return HostSettings(
        max_concurrent_sessions=int(service_bus["maxConcurrentSessions"]),
        max_concurrent_calls_per_session=int(service_bus.get("maxConcurrentCallsPerSession", 1)),
        session_idle_timeout_seconds=timespan_seconds(service_bus["sessionIdleTimeout"]),
        max_delivery_count=_integer_parameter(parameters, "bookingsMaxDeliveryCount"),
        worker_threads=_integer_parameter(parameters, "workerThreadCount"),
    )


def infra_integer(name: str, root: Path = REPO_ROOT) -> int:
    """An integer parameter as infra/main.bicepparam of the checkout at `root` sets it."""
    return _integer_parameter((root / "infra" / "main.bicepparam").read_text(encoding="utf-8"), name)


def timespan_seconds(text: str) -> float:
    """A .NET TimeSpan as host.json writes it ("00:00:05", "00:00:00.500", "1.00:00:00"), in seconds."""
    match = _TIMESPAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a TimeSpan such as 00:00:05")
    days = int(match["days"] or 0)
    return ((days * 24 + int(match["hours"])) * 60 + int(match["minutes"])) * 60 + float(match["seconds"])


def _integer_parameter(parameters: str, name: str) -> int:
    match = re.search(rf"^param {name} = (\d+)\s*$", parameters, re.MULTILINE)
    if match is None:
        raise ValueError(f"infra/main.bicepparam sets no integer {name}")
    return int(match[1])
