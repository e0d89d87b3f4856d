"""Talking to the Graph simulator by hand, as the simulator's own tests do: its origin and a token."""

from __future__ import annotations

from typing import Any

import requests

from simulator import GraphSimulator


def origin(sim: GraphSimulator) -> str:
    return sim.graph_base_url.removesuffix("/v1.0")


def fetch_token(sim: GraphSimulator, http: Any = requests, **params: str) -> requests.Response:
    """Ask the simulator's managed-identity endpoint for a Graph token, as App Service's protocol does."""
    query = {"api-version": "2019-08-01", "resource": origin(sim), **params}
    return http.get(sim.identity_endpoint, params=query, headers={"X-IDENTITY-HEADER": sim.identity_header}, timeout=5)
