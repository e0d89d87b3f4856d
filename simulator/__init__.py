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

from simulator.faults import Fault
from simulator.graph_simulator import DEFAULT_TENANT_ID, GraphSimulator
from simulator.recording import RecordedRequest, SimulatorStats

__all__ = ["DEFAULT_TENANT_ID", "Fault", "GraphSimulator", "RecordedRequest", "SimulatorStats"]
