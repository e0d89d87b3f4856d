"""The Table store on the wire in Azure: what it sends with the identity, and how it reads the service's refusals.

Azurite (tests/test_record_state.py) checks the behaviour; it accepts only SharedKey, so the
bearer path is checked here against a stub table service that records each request and answers
from a script.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.credentials import AccessToken

from shared.record_state import RecordState, StateConflict, StateStoreError, TableRecordStateStore
from shared.table_client import API_VERSION, JSON_NO_METADATA, STORAGE_SCOPE

TABLE = "bridgestate"


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubTableService:
    """Answers each request with the next scripted Answer (204 with an etag when the script is empty)."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self) -> None:
                # Every method gets the same treatment: read the request, answer from the script.
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                self._answer()
                self.wfile.flush()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.seen.append(Seen(self.command, self.path, dict(self.headers), self.rfile.read(length)))
                answer = stub.script.pop(0) if stub.script else Answer(204, {"ETag": 'W/"next"'})
                self.send_response(answer.status)
                for name, value in {"x-ms-request-id": "req-1", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> StubTableService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class CountingCredential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("storage-token", int(time.time()) + 3600)


@pytest.fixture
def service() -> Iterator[StubTableService]:
    with StubTableService() as stub:
        yield stub


@pytest.fixture
def credential() -> CountingCredential:
    return CountingCredential()


@pytest.fixture
def store(service: StubTableService, credential: CountingCredential) -> Iterator[TableRecordStateStore]:
    opened = TableRecordStateStore.with_identity(service.uri, TABLE, credential)
    yield opened
    opened.close()


def entity_body(revision: int) -> bytes:
    return json.dumps(
        {"PartitionKey": "r", "RowKey": "state", "Revision": str(revision), "Cancelled": False, "OrganizerId": "o"}
    ).encode()


def test_a_new_booking_costs_one_read_and_one_insert_with_one_token_for_the_lifetime(
    service: StubTableService, store: TableRecordStateStore, credential: CountingCredential
) -> None:
    for _ in range(3):
        external_id = str(uuid.uuid4())
        service.script.append(Answer(404, {"x-ms-error-code": "ResourceNotFound"}))
        assert store.read(external_id) is None
        store.write(RecordState(external_id, 1, False, "o", "m"), expected=None)

    assert [request.method for request in service.seen] == ["GET", "POST"] * 3
    assert credential.scopes == [(STORAGE_SCOPE,)]
    for request in service.seen:
        assert request.headers["Authorization"] == "Bearer storage-token"
        assert request.headers["x-ms-version"] == API_VERSION
        assert request.headers["Accept"] == JSON_NO_METADATA
        assert "x-ms-date" in request.headers
    insert = service.seen[1]
    assert insert.path == f"/{TABLE}"
    assert insert.headers["Prefer"] == "return-no-content"
    assert json.loads(insert.body)["Revision@odata.type"] == "Edm.Int64"


def test_a_read_returns_the_stored_state_with_the_etag_from_the_header(
    service: StubTableService, store: TableRecordStateStore
) -> None:
    service.script.append(Answer(200, {"ETag": "W/\"datetime'1'\""}, entity_body(2**63 - 1)))

    assert store.read("r") == RecordState("r", 2**63 - 1, False, "o", None, etag="W/\"datetime'1'\"")
    assert service.seen[0].path == f"/{TABLE}(PartitionKey='r',RowKey='state')"


def test_a_replace_names_the_etag_it_was_decided_from(service: StubTableService, store: TableRecordStateStore) -> None:
    expected = RecordState("r", 1, False, "o", "m", etag='W/"1"')

    written = store.write(RecordState("r", 2, True, "o", None), expected=expected)

    assert (service.seen[0].method, service.seen[0].headers["If-Match"]) == ("PUT", 'W/"1"')
    assert written.etag == 'W/"next"'


@pytest.mark.parametrize(
    ("answer", "expected_etag"),
    [
        (Answer(412, {"x-ms-error-code": "UpdateConditionNotSatisfied"}), 'W/"1"'),
        (Answer(404, {"x-ms-error-code": "ResourceNotFound"}), 'W/"1"'),
        (Answer(409, {"x-ms-error-code": "EntityAlreadyExists"}), None),
    ],
    ids=["etag-changed", "entity-removed", "already-inserted"],
)
def test_a_refused_condition_is_a_conflict(
    service: StubTableService, store: TableRecordStateStore, answer: Answer, expected_etag: str | None
) -> None:
    expected = None if expected_etag is None else RecordState("r", 1, False, "o", "m", etag=expected_etag)
    service.script.append(answer)

    with pytest.raises(StateConflict):
        store.write(RecordState("r", 2, False, "o", "m"), expected=expected)


def test_a_busy_service_is_retried_once_at_once(service: StubTableService, store: TableRecordStateStore) -> None:
    service.script.append(Answer(503, {"x-ms-error-code": "ServerBusy"}))
    service.script.append(Answer(404, {"x-ms-error-code": "ResourceNotFound"}))

    assert store.read("r") is None
    assert len(service.seen) == 2


def test_a_service_still_busy_after_the_retry_is_a_store_error_with_its_code_and_request_id(
    service: StubTableService, store: TableRecordStateStore
) -> None:
    service.script.extend([Answer(503, {"x-ms-error-code": "ServerBusy"})] * 2)

    with pytest.raises(StateStoreError, match=r"503 ServerBusy \(request-id req-1\)"):
        store.read("r")
    assert len(service.seen) == 2


NOT_AN_ENTITY = [b"<html>gateway</html>", b"[1, 2]", b"\xff\xfe", b"[" * 100_000]


@pytest.mark.parametrize("body", NOT_AN_ENTITY, ids=["html", "array", "bytes", "deep"])
def test_a_read_answered_200_without_an_entity_is_a_store_error_not_a_crash(
    service: StubTableService, store: TableRecordStateStore, body: bytes
) -> None:
    service.script.append(Answer(200, {"ETag": 'W/"1"'}, body))

    with pytest.raises(StateStoreError, match=r"200 unexpected answer \(request-id req-1\)"):
        store.read("r")


def test_a_refused_identity_is_a_store_error_that_names_the_role_to_grant(
    service: StubTableService, store: TableRecordStateStore
) -> None:
    refusal = json.dumps({"odata.error": {"code": "AuthorizationPermissionMismatch", "message": {"value": "no"}}})
    service.script.append(Answer(403, {}, refusal.encode()))

    with pytest.raises(StateStoreError, match=r"AuthorizationPermissionMismatch.*Storage Table Data Contributor"):
        store.write(RecordState("r", 1, False, "o", "m"), expected=None)


def test_a_missing_table_on_insert_is_a_store_error_not_a_conflict(
    service: StubTableService, store: TableRecordStateStore
) -> None:
    service.script.append(Answer(404, {"x-ms-error-code": "TableNotFound"}))

    with pytest.raises(StateStoreError, match="deploy infra/"):
        store.write(RecordState("r", 1, False, "o", "m"), expected=None)


@pytest.mark.parametrize(
    "connection_string",
    [
        "DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        "AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://table.contoso.example/devstoreaccount1",
    ],
    ids=["a-real-account", "azurite-account-off-loopback"],
)
def test_shared_key_is_refused_for_anything_but_azurite_on_loopback(connection_string: str) -> None:
    with pytest.raises(ValueError, match="only for Azurite"):
        TableRecordStateStore.for_emulator(connection_string, TABLE)
