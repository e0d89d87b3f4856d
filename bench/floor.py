"""The design floor: the least a bridge that keeps per-record order must do per booking, on plain requests.

A point read of the record's state row (404 for a new booking), the createOrGet POST with a valid token, and an
insert that fails if the row exists (the conditional write): three requests on requests.Sessions with trust_env
off and every constant header set once, signed for Azurite as the bridge's are (SharedKeyLite: one HMAC per
request). The bodies are built before the loop with the bridge's own code, the token is fetched once the way the
bridge fetches it (azure-identity's ManagedIdentityCredential against the same endpoint), and the rows go to a
table of the floor's own, so its reads find nothing, as the bridge's do for a new booking.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

import requests
from azure.identity import ManagedIdentityCredential

from shared.booking import parse_booking
from shared.external_id import derive_external_id
from shared.meeting_request import build_create_or_get_body
from shared.settings import GRAPH_BASE_URL, RECORD_STATE_CONNECTION, graph_scope_for

TIMEOUT_SECONDS = (3.05, 20.0)
# Connections kept per service, as many as the bridge keeps: requests' default pool of 10 would open and drop
# connections under more threads than that.
CONNECTIONS = 32


@dataclass(frozen=True)
class FloorRequest:
    """A booking as the floor sends it: the createOrGet URL and body, and the record's externalId."""

    url: str
    body: bytes
    external_id: str


class DesignFloorClient:
    """Reads the record's row, calls createOrGet, inserts the row: nothing else."""

    def __init__(self) -> None:
        self._base_url = os.environ[GRAPH_BASE_URL].rstrip("/")
        token = ManagedIdentityCredential().get_token(graph_scope_for(self._base_url)).token
        json_both_ways = {"Accept": "application/json", "Content-Type": "application/json"}
        self._graph = _session({"Authorization": f"Bearer {token}", **json_both_ways})
        self._table = _session({"Accept": "application/json;odata=nometadata", "x-ms-version": "2019-02-02"})
        fields = state_connection_fields()
        self._endpoint = fields["TableEndpoint"].rstrip("/")
        self._account, self._key = fields["AccountName"], base64.b64decode(fields["AccountKey"])
        self._path = urlsplit(self._endpoint).path
        self._table_name = f"floor{uuid.uuid4().hex}"
        created = self._table_request("POST", "/Tables", {"TableName": self._table_name})
        if created != 204:
            raise RuntimeError(f"the design floor's table could not be created: {created}")

    def request_for(self, booking_body: bytes) -> FloorRequest:
        """What the bridge would send for this booking message, ready."""
        booking = parse_booking(booking_body)
        external_id = derive_external_id(booking.source, booking.record_id)
        body = build_create_or_get_body(booking, external_id)
        return FloorRequest(f"{self._base_url}/users/{booking.organizer_id}/onlineMeetings/createOrGet", body, external_id)

    def book(self, request: FloorRequest) -> int:
        """Read the record's row, createOrGet, insert the row; the createOrGet status."""
        self._table_request("GET", f"/{self._table_name}(PartitionKey='{request.external_id}',RowKey='state')")
        status = self._graph.post(request.url, data=request.body, timeout=TIMEOUT_SECONDS).status_code
        row = {"PartitionKey": request.external_id, "RowKey": "state", "Revision": "1", "Revision@odata.type": "Edm.Int64"}
        self._table_request("POST", f"/{self._table_name}", row)
        return status

    def close(self) -> None:
        self._graph.close()
        self._table.close()

    def _table_request(self, method: str, path: str, row: dict[str, str] | None = None) -> int:
        """One signed table request; its status."""
        date = formatdate(usegmt=True)
        signature = hmac.new(self._key, f"{date}\n/{self._account}{self._path}{path}".encode(), hashlib.sha256).digest()
        headers = {"x-ms-date": date, "Authorization": f"SharedKeyLite {self._account}:{base64.b64encode(signature).decode()}"}
        if row is not None:
            headers |= {"Content-Type": "application/json", "Prefer": "return-no-content"}
        data = None if row is None else json.dumps(row).encode()
        return self._table.request(method, self._endpoint + path, data=data, headers=headers, timeout=TIMEOUT_SECONDS).status_code


def _session(headers: dict[str, str]) -> requests.Session:
    """A requests.Session that keeps CONNECTIONS connections per host, reads nothing from the environment, and
    sends these headers with every request."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=CONNECTIONS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers = requests.structures.CaseInsensitiveDict(headers)
    return session


def state_connection_fields() -> dict[str, str]:
    """The fields of the Azurite connection string the bench gives the function app (AccountKey, TableEndpoint...)."""
    return dict(part.split("=", 1) for part in os.environ[RECORD_STATE_CONNECTION].split(";") if "=" in part)
