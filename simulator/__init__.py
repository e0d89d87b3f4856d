"""A local stand-in for Microsoft Graph's onlineMeetings (createOrGet, GET, PATCH, DELETE) and App Service managed identity.

Strict where Graph is strict, so client mistakes fail here first; faults on demand, so retry
and timeout handling can be exercised; stdlib only, so it ships with the app and runs in-process.
"""

import sys

# Before the simulator's modules are imported: on an older Python they fail with an ImportError traceback
# (datetime.UTC) that never says the version is the problem.
if sys.version_info < (3, 11):  # noqa: UP036 - the point is to run on the versions ruff assumes away
    sys.stderr.write(
        f"error: python -m simulator needs Python 3.11 or 3.12, not {sys.version.split()[0]} ({sys.executable}); "
        "recreate the environment with one of them: python3.12 -m venv --clear .venv && .venv/bin/pip install -r "
        "requirements.txt\n"
    )
    raise SystemExit(2)

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.faults import Fault
    from simulator.graph_simulator import DEFAULT_TENANT_ID, GraphSimulator
    from simulator.recording import RecordedRequest, SimulatorStats

__all__ = ["DEFAULT_TENANT_ID", "Fault", "GraphSimulator", "RecordedRequest", "SimulatorStats"]

# Loaded on first use rather than with the package: `python -m simulator` imports this package before its __main__,
# and a Ctrl-C while the simulator's modules load is then __main__'s to answer in one line, not a traceback from here.
_EXPORTED_FROM = {
    "DEFAULT_TENANT_ID": "simulator.graph_simulator",
    "Fault": "simulator.faults",
    "GraphSimulator": "simulator.graph_simulator",
    "RecordedRequest": "simulator.recording",
    "SimulatorStats": "simulator.recording",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTED_FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTED_FROM[name]), name)
    globals()[name] = value
    return value
