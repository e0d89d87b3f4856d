"""The floors: the least any bridge must do per booking, and the least one that keeps per-record order must do.

FloorClient: one POST of a ready createOrGet body with a valid token. DesignFloorClient: the same
POST between a point read and an insert of the record's state row (issue 12), on plain requests as
the issue defines it. LeanDesignFloorClient: the same three requests on bare urllib3 pools, the
transport the bridge itself sends with: for context, what the bridge adds beyond the leanest client.

The bodies are built before the loop (with the bridge's own code), the token is fetched once the
way the bridge fetches it (azure-identity's ManagedIdentityCredential against the same endpoint),
and the loop is a bare requests.Session.post to the same simulator the bridge talks to.
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
import urllib3
from azure.identity import ManagedIdentityCredential

from shared.booking import parse_booking
from shared.external_id import derive_external_id
from shared.meeting_request import build_create_or_get_body
from shared.settings import GRAPH_BASE_URL, RECORD_STATE_CONNECTION, graph_scope_for

TIMEOUT_SECONDS = (3.05, 20.0)
# Connections each floor keeps per service, as many as the bridge keeps (shared.record_state.MAX_CONNECTIONS):
# with requests' default pool of 10, or urllib3's of 1, a floor under the throughput run's 16 threads
# would open and drop a connection on most requests.
CONNECTIONS = 32


def pooled_session() -> requests.Session:
    """A requests.Session that keeps CONNECTIONS connections per host."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=CONNECTIONS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class FloorRequest:
    """A booking as the floors send it: the createOrGet URL and body, and the record's externalId."""

    url: str
    body: bytes
    external_id: str


class FloorClient:
    """One requests.Session with the bearer token set once; posts pre-built bodies."""

    def __init__(self) -> None:
        self._base_url = os.environ[GRAPH_BASE_URL].rstrip("/")
        token = ManagedIdentityCredential().get_token(graph_scope_for(self._base_url)).token
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}
        self._session = pooled_session()
        self._session.headers.update(self._headers)

    def headers(self) -> dict[str, str]:
        """The constant headers of a createOrGet: the token, and JSON both ways."""
        return dict(self._headers)

    def request_for(self, booking_body: bytes) -> FloorRequest:
        """What the bridge would send for this booking message, ready."""
        booking = parse_booking(booking_body)
        external_id = derive_external_id(booking.source, booking.record_id)
        body = build_create_or_get_body(booking, external_id)
        return FloorRequest(f"{self._base_url}/users/{booking.organizer_id}/onlineMeetings/createOrGet", body, external_id)

    def post(self, request: FloorRequest) -> int:
        """One createOrGet; the status code (the body is read by requests, as any client must)."""
        return self._session.post(request.url, data=request.body, timeout=TIMEOUT_SECONDS).status_code

    def close(self) -> None:
        self._session.close()


class DesignFloorClient:
    """The design floor (issue 12): the round trips ordering needs, bare, per new booking.

    A point read of the record's row (404), the createOrGet POST, and an insert that fails if the
    row exists (the conditional write), with plain requests.Sessions, trust_env off and every
    constant header set once. Signed as Azurite requires (SharedKeyLite: one HMAC per request);
    in Azure a bearer header costs less. The rows go to a table of its own, so its reads find
    nothing, as ours do for a new booking.
    """

    def __init__(self, graph: FloorClient) -> None:
        self._graph = graph
        fields = state_connection_fields()
        self._endpoint = fields["TableEndpoint"].rstrip("/")
        self._account, self._key = fields["AccountName"], base64.b64decode(fields["AccountKey"])
        self._path = urlsplit(self._endpoint).path
        self._table = f"floor{uuid.uuid4().hex}"
        self._session = pooled_session()
        self._session.trust_env = False
        self._session.headers = requests.structures.CaseInsensitiveDict(
            {"Accept": "application/json;odata=nometadata", "x-ms-version": "2019-02-02"}
        )
        self._graph_session = pooled_session()
        self._graph_session.trust_env = False
        self._graph_session.headers = requests.structures.CaseInsensitiveDict(graph.headers())
        created = self._table_request("POST", "/Tables", {"TableName": self._table})
        if created != 204:
            raise RuntimeError(f"the design floor's table could not be created: {created}")

    def book(self, request: FloorRequest) -> int:
        """Read the record's row, createOrGet, insert the row; the createOrGet status."""
        self._table_request("GET", f"/{self._table}(PartitionKey='{request.external_id}',RowKey='state')")
        status = self._create_or_get(request)
        row = {"PartitionKey": request.external_id, "RowKey": "state", "Revision": "1", "Revision@odata.type": "Edm.Int64"}
        self._table_request("POST", f"/{self._table}", row)
        return status

    def _table_request(self, method: str, path: str, row: dict[str, str] | None = None) -> int:
        """One signed table request; its status."""
        date = formatdate(usegmt=True)
        signature = hmac.new(self._key, f"{date}\n/{self._account}{self._path}{path}".encode(), hashlib.sha256).digest()
        headers = {"x-ms-date": date, "Authorization": f"SharedKeyLite {self._account}:{base64.b64encode(signature).decode()}"}
        if row is not None:
            headers |= {"Content-Type": "application/json", "Prefer": "return-no-content"}
        return self._send_to_table(method, path, None if row is None else json.dumps(row).encode(), headers)

    def _create_or_get(self, request: FloorRequest) -> int:
        return self._graph_session.post(request.url, data=request.body, timeout=TIMEOUT_SECONDS).status_code

    def _send_to_table(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> int:
        response = self._session.request(method, self._endpoint + path, data=data, headers=headers, timeout=TIMEOUT_SECONDS)
        return response.status_code

    def close(self) -> None:
        self._session.close()
        self._graph_session.close()


class LeanDesignFloorClient(DesignFloorClient):
    """The design floor's three requests on one bare urllib3 pool per service: no session layer at all."""

    def __init__(self, graph: FloorClient) -> None:
        self._timeout = urllib3.Timeout(connect=TIMEOUT_SECONDS[0], read=TIMEOUT_SECONDS[1])
        self._graph_headers = graph.headers()
        self._graph_pool = urllib3.PoolManager(maxsize=CONNECTIONS, retries=False).connection_from_url(os.environ[GRAPH_BASE_URL])
        fields = state_connection_fields()
        self._table_pool = urllib3.PoolManager(maxsize=CONNECTIONS, retries=False).connection_from_url(fields["TableEndpoint"])
        super().__init__(graph)

    def _create_or_get(self, request: FloorRequest) -> int:
        path = urlsplit(request.url).path
        return self._graph_pool.urlopen(
            "POST", path, body=request.body, headers=self._graph_headers, timeout=self._timeout, redirect=False
        ).status

    def _send_to_table(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> int:
        # No session holds the constant headers here: each request carries them.
        headers = {"Accept": "application/json;odata=nometadata", "x-ms-version": "2019-02-02", **headers}
        return self._table_pool.urlopen(method, self._path + path, body=data, headers=headers, timeout=self._timeout).status

    def close(self) -> None:
        super().close()
        self._graph_pool.close()
        self._table_pool.close()


def state_connection_fields() -> dict[str, str]:
    """The fields of the Azurite connection string the bench gives the function app (AccountKey, TableEndpoint...)."""
    return dict(part.split("=", 1) for part in os.environ[RECORD_STATE_CONNECTION].split(";") if "=" in part)
