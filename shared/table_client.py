"""The three Table storage calls per-record state needs, through one requests Session (shared.http_transport).

A point read (GET), an insert (POST, `Prefer: return-no-content`) and a replace (PUT with
If-Match), JSON with `odata=nometadata`, plus Create Table for Azurite. Three REST calls are
all the bridge needs of Table storage, so they are sent as the Graph calls are, through the same
kind of session, rather than through azure-data-tables' pipeline.

Authorization: a bearer token from the managed identity in Azure (one per token lifetime,
shared.credential.GraphToken), and SharedKeyLite only for Azurite's well-known loopback account.
https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from shared.connection_string import AZURITE_ACCOUNT, azurite_fields
from shared.http_transport import HttpEndpoint, HttpResponse, TransportError
from shared.telemetry import table_request

STORAGE_SCOPE = "https://storage.azure.com/.default"
# The version azure-data-tables sent; bearer tokens need 2017-11-09 or later.
API_VERSION = "2019-02-02"
# Only the properties, no OData annotations: the smallest response (Int64 values come back as strings).
JSON_NO_METADATA = "application/json;odata=nometadata"
# Statuses and failures worth one immediate retry, as azure-core's policy retried them.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# (x-ms-date, the request URL's path) -> the Authorization header's value.
Authorize = Callable[[str, str], str]
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class TableReply:
    """What the service responded: status, the entity's etag, its properties (a read), and for a refusal its code."""

    status: int
    etag: str | None
    request_id: str | None
    error_code: str | None = None
    entity: dict[str, Any] | None = None


def bearer(token: Callable[[], str]) -> Authorize:
    """Authorization with the identity's token for STORAGE_SCOPE (the caller caches it)."""
    return lambda _date, _path: f"Bearer {token()}"


def shared_key_lite(account: str, key: str) -> Authorize:
    """SharedKeyLite for the Table service: HMAC-SHA256 over the date and the canonicalized resource.

    The canonicalized resource is /account + the URL's path, so Azurite's path-style account appears twice."""
    secret = base64.b64decode(key)

    def authorize(date: str, path: str) -> str:
        digest = hmac.new(secret, f"{date}\n/{account}{path}".encode(), hashlib.sha256).digest()
        return f"SharedKeyLite {account}:{base64.b64encode(digest).decode()}"

    return authorize


class TableClient:
    """One table's entities by (PartitionKey, RowKey); thread-safe (the session's pool is), raises only TransportError's kinds."""

    def __init__(
        self,
        table_service_uri: str,
        table: str,
        authorize: Authorize,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
    ) -> None:
        self.table = table
        self._authorize = authorize
        self._timeout = (connect_timeout, read_timeout)
        self._endpoint = HttpEndpoint(
            table_service_uri,
            max_connections,
            {"Accept": JSON_NO_METADATA, "x-ms-version": API_VERSION},
            service="the state table",
        )

    @classmethod
    def for_emulator(cls, connection_string: str, table: str, **options: Any) -> TableClient:
        """A client on Azurite, signed with its well-known key; refuses any other account or a non-loopback endpoint."""
        fields = azurite_fields(connection_string)
        if fields is None:
            raise ValueError(f"a connection string is used only for Azurite ({AZURITE_ACCOUNT} on a loopback endpoint)")
        return cls(fields["tableendpoint"], table, shared_key_lite(AZURITE_ACCOUNT, fields["accountkey"]), **options)

    def get(self, partition_key: str, row_key: str) -> TableReply:
        """Get Entity: 200 with the entity's properties, or 404."""
        return self._send("GET", self._entity_path(partition_key, row_key))

    def insert(self, entity: Mapping[str, Any]) -> TableReply:
        """Insert Entity: 204 with the new etag, or 409 if it exists."""
        return self._send("POST", f"/{self.table}", entity, {"Prefer": "return-no-content"})

    def replace(self, entity: Mapping[str, Any], etag: str) -> TableReply:
        """Update Entity (replace) if its etag still is `etag`: 204 with the new etag, 412 if it changed, 404 if gone."""
        path = self._entity_path(entity["PartitionKey"], entity["RowKey"])
        return self._send("PUT", path, entity, {"If-Match": etag})

    def create_table(self) -> TableReply:
        """Create Table: 204, or 409 if it exists."""
        return self._send("POST", "/Tables", {"TableName": self.table}, {"Prefer": "return-no-content"})

    def close(self) -> None:
        self._endpoint.close()

    def _entity_path(self, partition_key: str, row_key: str) -> str:
        # Keys are OData string literals (a quote is doubled), then percent-encoded.
        keys = (quote(key.replace("'", "''"), safe="") for key in (partition_key, row_key))
        return "/{}(PartitionKey='{}',RowKey='{}')".format(self.table, *keys)

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, extra: Mapping[str, str] | None = None
    ) -> TableReply:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        endpoint = self._endpoint
        attempt = 1
        while True:
            date = formatdate(usegmt=True)
            headers = {"x-ms-date": date, "Authorization": self._authorize(date, endpoint.base_path + path)}
            if data is not None:
                headers["Content-Type"] = JSON_NO_METADATA
            if extra:
                headers.update(extra)
            try:
                with table_request(method, "Tables" if path == "/Tables" else "entity", endpoint.host, attempt) as call:
                    response = endpoint.request(method, path, body=data, headers=headers, timeout=self._timeout)
                    call.responded(response.status, response.headers.get("x-ms-request-id"))
            except TransportError:
                if attempt == MAX_ATTEMPTS:
                    raise
            else:
                if response.status not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
                    return _table_response(response)
            attempt += 1


def _table_response(response: HttpResponse) -> TableReply:
    status, headers = response.status, response.headers
    etag, request_id = headers.get("ETag"), headers.get("x-ms-request-id")
    if status == 200:
        return TableReply(status, etag, request_id, entity=_entity(response.body))
    if status < 300:
        return TableReply(status, etag, request_id)
    return TableReply(status, etag, request_id, headers.get("x-ms-error-code") or _body_error_code(response.body))


def _entity(body: bytes) -> dict[str, Any] | None:
    """The entity a read answered, or None if the body is not one (the store reports the response as unexpected)."""
    try:
        entity = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return entity if isinstance(entity, dict) else None


def _body_error_code(body: bytes) -> str | None:
    """The code in the service's error body ({"odata.error": {"code": ...}}), bounded and only if it is one."""
    try:
        code = json.loads(body)["odata.error"]["code"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return code[:64] if isinstance(code, str) and code.isalnum() else None
