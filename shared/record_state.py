"""Per-record state: what the bridge last applied for each source record.

Revisions of one record can arrive out of order (re-sends, replayed dead letters, throttled
copies), so shared.ordering compares each booking with the state stored here. Every write is
optimistic: it names the state it was decided from (its etag) and is refused with StateConflict
if another invocation wrote in between, so two deliveries can never both think they won.

In Azure the state lives in Table storage in the function app's own account (the identity has
Storage Table Data Contributor); locally and in tests in Azurite. `simulate` and the benchmarks,
single processes, use the in-memory store.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from shared.errors import StateConflict, StateStoreError
from shared.http_session import pooled_session

# One entity per record, addressed by (PartitionKey, RowKey): a point read or write, the cheapest
# Table operation, and one partition per record so load spreads across partitions. The fixed
# RowKey leaves room for more rows per record (a history, markers) in the same partition, where
# an entity group transaction could write them atomically with the state.
STATE_ROW_KEY = "state"
# Azurite listens on loopback (shared.settings accepts no other storage connection string).
_EMULATOR_ENDPOINT = "http://127.0.0.1"

# A point operation takes milliseconds, so these bound a hung or unreachable store, not a slow one.
# The SDK sends each request at most twice (RETRY_TOTAL = 1; its first retry has no delay), so one
# call gives up after about 2 x (2 + 5) = 14 s: well inside the 5-minute function timeout, and the
# booking is redelivered anyway (StateStoreError is retryable).
CONNECTION_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
RETRY_TOTAL = 1
# Connections kept to the table endpoint: more than host.json's maxConcurrentSessions (16), like the Graph client's.
MAX_CONNECTIONS = 32

# Table properties are Edm.Int64 at most; revisions are stored as such.
_INT64_MAX = 2**63 - 1
# The characters Table storage forbids in keys (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
_FORBIDDEN_KEY_CHARACTERS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


__all__ = ["AppliedOutcome", "RecordState", "RecordStateStore", "StateConflict", "StateStoreError"]


@dataclass(frozen=True)
class AppliedOutcome:
    """What the booking that last changed the record achieved, so that a redelivery of that same booking
    (after its result could not be published) reports it again, rather than what is left to do by then."""

    booking_key: str
    status: str
    meeting_existed: bool | None = None
    changed_fields: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps([self.booking_key, self.status, self.meeting_existed, list(self.changed_fields)])

    @classmethod
    def from_json(cls, text: object) -> AppliedOutcome | None:
        try:
            key, status, existed, changed = json.loads(str(text))
            return cls(str(key), str(status), existed if isinstance(existed, bool) else None, tuple(map(str, changed)))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class RecordState:
    """What the bridge last applied for one record."""

    external_id: str
    revision: int | None  # last applied revision; None = applied without a revision
    cancelled: bool
    organizer_id: str | None  # organizer the meeting lives under
    meeting_id: str | None  # Graph onlineMeeting id, None when no live meeting
    etag: str | None = None  # the store's concurrency token; None until stored
    outcome: AppliedOutcome | None = None  # what the last booking that changed the record achieved

    def same_as(self, other: RecordState | None) -> bool:
        """Equal but for the etag: writing it again would change nothing."""
        return other is not None and replace(self, etag=None) == replace(other, etag=None)


class RecordStateStore(Protocol):
    """Where per-record state is kept: Table storage in Azure, memory in `simulate`."""

    def read(self, external_id: str) -> RecordState | None:
        """The stored state with its etag, or None if the record was never written."""
        ...

    def write(self, state: RecordState, expected: RecordState | None) -> RecordState:
        """Store `state` if the record still is as `expected` (None: not stored yet); return it with its new etag.

        Raises StateConflict if another writer got there first."""
        ...

    def close(self) -> None: ...


def _check_write(state: RecordState, expected: RecordState | None) -> None:
    # Programming errors, raised the same way by both stores so that `simulate` catches what Azure would refuse.
    if not state.external_id or _FORBIDDEN_KEY_CHARACTERS.search(state.external_id):
        raise ValueError("external_id must be a non-empty Table key (no '/', '\\', '#', '?' or control characters)")
    if state.revision is not None and not 0 <= state.revision <= _INT64_MAX:
        raise ValueError("revision must fit in a Table Int64 (0 to 2**63 - 1)")
    if expected is not None:
        if expected.external_id != state.external_id:
            raise ValueError("expected must be the stored state of the same record")
        if expected.etag is None:
            raise ValueError("expected must come from read() or write(): it has no etag")


class MemoryRecordStateStore:
    """The Table store's semantics (conflicts, etags) in one process's memory; thread-safe."""

    def __init__(self) -> None:
        self._states: dict[str, RecordState] = {}
        self._versions = itertools.count(1)
        self._lock = threading.Lock()

    def read(self, external_id: str) -> RecordState | None:
        with self._lock:
            return self._states.get(external_id)

    def write(self, state: RecordState, expected: RecordState | None) -> RecordState:
        _check_write(state, expected)
        with self._lock:
            current = self._states.get(state.external_id)
            if expected is None and current is not None:
                raise StateConflict("the record's state already exists")
            if expected is not None and (current is None or current.etag != expected.etag):
                raise StateConflict("the record's state changed since it was read")
            stored = replace(state, etag=f'W/"{next(self._versions)}"')
            self._states[state.external_id] = stored
            return stored

    def close(self) -> None:
        """Nothing to release."""


class TableRecordStateStore:
    """Per-record state in an Azure Table, one entity per record, written with If-Match.

    One instance per process, shared by the invocation threads. azure-data-tables documents no
    thread-safety promise for Python; its source keeps no per-call state on the client (each call
    builds its own pipeline request and context), connections come from urllib3's thread-safe pool,
    and the worst race, in the token policy, is two threads fetching a token at expiry.
    """

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self._table = client.table_name

    @classmethod
    def with_identity(
        cls, table_service_uri: str, table_name: str, credential: TokenCredential, *, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> TableRecordStateStore:
        """The store in Azure: the app's identity on an existing table (infra creates it; the app cannot)."""
        client = TableClient(
            endpoint=table_service_uri,
            table_name=table_name,
            credential=credential,
            **_client_options(read_timeout, table_service_uri),
        )
        return cls(client)

    @classmethod
    def for_emulator(
        cls, connection_string: str, table_name: str, *, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> TableRecordStateStore:
        """The store on Azurite, creating the table if missing (a fresh emulator has none)."""
        client = TableClient.from_connection_string(
            connection_string, table_name, **_client_options(read_timeout, _EMULATOR_ENDPOINT)
        )
        store = cls(client)
        try:
            client.create_table()
        except ResourceExistsError:
            pass
        except AzureError as error:
            raise store._store_error("could not create", error) from error
        return store

    def read(self, external_id: str) -> RecordState | None:
        try:
            entity = self._client.get_entity(partition_key=external_id, row_key=STATE_ROW_KEY)
        except ResourceNotFoundError as error:
            if _is_missing_table(error):
                raise self._store_error("could not read from", error) from error
            return None
        except AzureError as error:
            raise self._store_error("could not read from", error) from error
        return _from_entity(external_id, entity)

    def write(self, state: RecordState, expected: RecordState | None) -> RecordState:
        _check_write(state, expected)
        entity = _to_entity(state)
        try:
            if expected is None:
                metadata = self._client.create_entity(entity)
            else:
                metadata = self._client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=expected.etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceExistsError as error:
            raise StateConflict(f"the record's state already exists in table {self._table!r}") from error
        except ResourceModifiedError as error:
            raise StateConflict(f"the record's state in table {self._table!r} changed since it was read") from error
        except ResourceNotFoundError as error:
            # Replacing an entity that is gone: it changed since it was read (the If-Match cannot hold).
            if _is_missing_table(error) or expected is None:
                raise self._store_error("could not write to", error) from error
            raise StateConflict(f"the record's state in table {self._table!r} was removed since it was read") from error
        except HttpResponseError as error:
            if error.status_code == 412:
                raise StateConflict(f"the record's state in table {self._table!r} changed since it was read") from error
            raise self._store_error("could not write to", error) from error
        except AzureError as error:
            raise self._store_error("could not write to", error) from error
        return replace(state, etag=metadata["etag"])

    def close(self) -> None:
        self._client.close()

    def _store_error(self, doing: str, error: AzureError) -> StateStoreError:
        # Only the status, the service's error code and request-id: the SDK's own message can carry
        # the request URL, and with it the record's key.
        detail = type(error).__name__
        if isinstance(error, HttpResponseError) and error.response is not None:
            request_id = error.response.headers.get("x-ms-request-id")
            detail = f"{error.status_code} {_error_code(error) or detail} (request-id {request_id})"
        problem = f"the record state store {doing} table {self._table!r}: {detail}"
        if isinstance(error, ClientAuthenticationError) or (isinstance(error, HttpResponseError) and error.status_code == 403):
            problem += "; grant the function app's identity Storage Table Data Contributor on the storage account"
        elif _is_missing_table(error):
            problem += "; the table does not exist: deploy infra/, which creates it"
        return StateStoreError(problem)


def _client_options(read_timeout: float, endpoint: str) -> dict[str, Any]:
    # The SDK's own session pools 10 connections per host; with more concurrent invocations than that,
    # urllib3 discards the surplus after each call and logs a warning. Retries are the SDK's policy's.
    # use_env_settings=False: the session has read the proxy settings once (shared.http_session).
    transport = RequestsTransport(
        session=pooled_session(endpoint, MAX_CONNECTIONS),
        session_owner=True,
        use_env_settings=False,
        connection_timeout=CONNECTION_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
    )
    return {"transport": transport, "retry_total": RETRY_TOTAL}


def _error_code(error: AzureError) -> str | None:
    # Most calls decode the service's code into error.error_code (a TableErrorCode, a str enum);
    # create_entity re-raises the undecoded error, which has it only in the x-ms-error-code header.
    code = getattr(error, "error_code", None)
    if code is None and isinstance(error, HttpResponseError) and error.response is not None:
        code = error.response.headers.get("x-ms-error-code")
    return getattr(code, "value", code)


def _is_missing_table(error: AzureError) -> bool:
    return _error_code(error) == "TableNotFound"


def _to_entity(state: RecordState) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": state.external_id,
        "RowKey": STATE_ROW_KEY,
        "Cancelled": state.cancelled,
        "UpdatedAt": datetime.now(UTC),
    }
    # Absent rather than null: Table storage has no null, a property is either there or not.
    if state.revision is not None:
        entity["Revision"] = EntityProperty(state.revision, EdmType.INT64)
    if state.organizer_id is not None:
        entity["OrganizerId"] = state.organizer_id
    if state.meeting_id is not None:
        entity["MeetingId"] = state.meeting_id
    if state.outcome is not None:
        entity["Outcome"] = state.outcome.to_json()
    return entity


def _from_entity(external_id: str, entity: Any) -> RecordState:
    revision = entity.get("Revision")
    if isinstance(revision, EntityProperty):
        revision = revision.value
    return RecordState(
        external_id=external_id,
        revision=None if revision is None else int(revision),
        cancelled=bool(entity.get("Cancelled", False)),
        organizer_id=entity.get("OrganizerId"),
        meeting_id=entity.get("MeetingId"),
        etag=entity.metadata["etag"],
        outcome=AppliedOutcome.from_json(entity["Outcome"]) if entity.get("Outcome") else None,
    )
