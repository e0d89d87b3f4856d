"""A local stand-in for Microsoft Graph's onlineMeetings (createOrGet, GET, PATCH, DELETE) and App Service managed identity.

Strict where Graph is strict, so client mistakes fail here first; faults on demand, so retry
and timeout handling can be exercised; stdlib only, so it ships with the app and runs in-process.
"""

from __future__ import annotations

from simulator.faults import Fault
from simulator.graph_simulator import DEFAULT_TENANT_ID, GraphSimulator
from simulator.recording import RecordedRequest, SimulatorStats

__all__ = ["DEFAULT_TENANT_ID", "Fault", "GraphSimulator", "RecordedRequest", "SimulatorStats"]
