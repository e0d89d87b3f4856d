"""The floor: the least any bridge must do per booking, one POST of a ready createOrGet body with a valid token.

The bodies are built before the loop (with the bridge's own code), the token is fetched once the
way the bridge fetches it (azure-identity's ManagedIdentityCredential against the same endpoint),
and the loop is a bare requests.Session.post to the same simulator the bridge talks to.
"""

from __future__ import annotations

import os

import requests
from azure.identity import ManagedIdentityCredential

from shared.booking import parse_booking
from shared.external_id import derive_external_id
from shared.meeting_request import build_create_or_get_body
from shared.settings import GRAPH_BASE_URL, graph_scope_for

TIMEOUT_SECONDS = (3.05, 20.0)


class FloorClient:
    """One requests.Session with the bearer token set once; posts pre-built bodies."""

    def __init__(self) -> None:
        self._base_url = os.environ[GRAPH_BASE_URL].rstrip("/")
        token = ManagedIdentityCredential().get_token(graph_scope_for(self._base_url)).token
        self._session = requests.Session()
        self._session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}
        )

    def request_for(self, booking_body: bytes) -> tuple[str, bytes]:
        """The (URL, createOrGet body) the bridge would send for this booking message."""
        booking = parse_booking(booking_body)
        body = build_create_or_get_body(booking, derive_external_id(booking.source, booking.record_id))
        return f"{self._base_url}/users/{booking.organizer_id}/onlineMeetings/createOrGet", body

    def post(self, url: str, body: bytes) -> int:
        """One createOrGet; the status code (the body is read by requests, as any client must)."""
        return self._session.post(url, data=body, timeout=TIMEOUT_SECONDS).status_code

    def close(self) -> None:
        self._session.close()
