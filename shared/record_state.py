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

import base64
import itertools
import json
import re
import secrets
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from azure.core.credentials import TokenCredential

from shared.credential import GraphToken
from shared.errors import StateConflict, StateStoreError
from shared.http_transport import TransportError
from shared.table_client import STORAGE_SCOPE, TableClient, TableReply, bearer

# One entity per record, addressed by (PartitionKey, RowKey): a point read or write, the cheapest
# Table operation, and one partition per record so load spreads across partitions. The fixed
# RowKey leaves room for more rows per record (a history, markers) in the same partition, where
# an entity group transaction could write them atomically with the state.
STATE_ROW_KEY = "state"

# A point operation takes milliseconds, so these bound a hung or unreachable store, not a slow one.
# The client sends each request at most twice (shared.table_client.MAX_ATTEMPTS, the second at once),
# so one call gives up after about 2 x (2 + 5) = 14 s: well inside the 5-minute function timeout, and
# the booking is redelivered anyway (StateStoreError is retryable).
CONNECTION_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
# Connections kept to the table endpoint: more than host.json's maxConcurrentSessions (16), like the Graph client's.
MAX_CONNECTIONS = 32

# Table properties are Edm.Int64 at most; revisions are stored as such (in JSON, a string with its type).
_INT64_MAX = 2**63 - 1
# An Edm.Binary property holds at most 64 KiB; a booking kept for a repair is stored compressed, and one whose
# body is larger than this is not kept (a repair then waits for the record's next revision).
MAX_KEPT_BOOKING_BYTES = 48 * 1024
# The characters Table storage forbids in keys (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
_FORBIDDEN_KEY_CHARACTERS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


__all__ = [
    "AppliedOutcome",
    "AttendanceAnswer",
    "AttendanceWindow",
    "RecordState",
    "RecordStateStore",
    "StateConflict",
    "StateStoreError",
]


# Each write's own random id, stored with the state: a write sent again after its answer was lost recognises its
# own earlier write by it (identical content from another writer is still a conflict).
WRITE_ID = "WriteId"

# A meeting left behind whose id was never learned: the record's meeting under that organizer, found by externalId.
UNKNOWN_MEETING = "?"

# A meeting a concurrent delivery left behind: (organizer id, its id), in the record's mode; or (organizer id, its id,
# its mode), one in the other mode (a state written before leftovers named a mode holds pairs only).
Leftover = tuple[str, ...]
LEFTOVER_EVENT = "event"
LEFTOVER_MEETING = "meeting"


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
        except (TypeError, ValueError, RecursionError):
            return None


@dataclass(frozen=True)
class AttendanceWindow:
    """What the attendance follow-up of the revision in AttendanceScheduled acts on, kept from the booking that
    asked for it (shared.attendance): the meeting's start and end, and the booking message the result names."""

    start: datetime
    end: datetime
    booking_message_id: str

    def to_json(self) -> str:
        return json.dumps([self.start.isoformat(), self.end.isoformat(), self.booking_message_id])

    @classmethod
    def from_json(cls, text: object) -> AttendanceWindow | None:
        """The stored window, or None when absent or unreadable (the follow-up is then not believed)."""
        try:
            start, end, message_id = json.loads(str(text))
            window = cls(datetime.fromisoformat(start), datetime.fromisoformat(end), str(message_id))
        except (TypeError, ValueError, RecursionError):
            return None
        aware = window.start.tzinfo is not None and window.end.tzinfo is not None
        return window if aware and window.start <= window.end else None


@dataclass(frozen=True)
class AttendanceAnswer:
    """The answer of the attendance follow-up of the revision in AttendanceScheduled (shared.attendance), written
    before it is published, so that a redelivery publishes it again under the same message ids, or nothing: the reports
    its parts carry (a digest of each id) and a digest of every part; or, for an answer without parts, none and its
    error code. `error` is the JSON of an answer without parts, given at once or, with the reports still named, instead
    of parts a redelivery could not publish again. `look` is the follow-up copy (its count) that answered: another look
    of the same revision publishes nothing (None: written by an earlier release, which did not keep it)."""

    reports: tuple[str, ...]
    digest: str
    look: int | None = None
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps([list(self.reports), self.digest, self.look, self.error])

    @classmethod
    def from_json(cls, text: object) -> AttendanceAnswer | None:
        try:
            reports, digest, *rest = json.loads(str(text))
            look, error = (*rest, None, None)[:2]
            return cls(
                tuple(map(str, reports)),
                str(digest),
                look if type(look) is int else None,
                error if isinstance(error, str) else None,
            )
        except (TypeError, ValueError, RecursionError):
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
    # Meetings (organizer id, meeting id) a concurrent delivery left behind and could not remove: the
    # record's next delivery retires them before anything else, each in its own mode. One in the record's mode
    # is a pair; one in the other mode names it third (LEFTOVER_EVENT or LEFTOVER_MEETING).
    leftovers: tuple[Leftover, ...] = ()
    # The body of the upsert booking applied last (None after a cancel, or when it is too large to keep), so
    # that what a concurrent older delivery did to its meeting can be put right by applying it again; and
    # whether that is still to be done (a repair that failed is left to the record's next delivery).
    applied_booking: bytes | None = None
    reapply: bool = False
    # A booking may have created the record's meeting under organizer_id without the bridge learning its id
    # (Graph's answer was lost, then the booking failed): a move or cancel looks it up by externalId.
    meeting_unknown: bool = False
    # The Teams channel the record's meeting is in: its thread id, "" for a meeting in no channel, None when not
    # known (a state written before channels, or no live meeting). A meeting cannot move between chats.
    channel_thread_id: str | None = None
    # Calendar mode (shared.calendar_lifecycle): the record's meeting is an Outlook event; its id; and how many
    # times the record was booked again after a cancel, which makes each incarnation's transactionId its own.
    # A calendar record's leftovers (the pairs) are events.
    calendar: bool = False
    event_id: str | None = None
    incarnation: int = 0
    # The revision whose attendance follow-up is scheduled (shared.attendance): a re-send or a redelivery of it
    # schedules no second one. Kept across later writes; a newer revision differs from it, so it schedules its own.
    attendance_scheduled: int | None = None
    # Its meeting's times and the booking that asked: a follow-up acts on these, never on its own body's.
    attendance_window: AttendanceWindow | None = None
    # That follow-up's answer, written before it is published: a redelivery publishes the same or nothing.
    attendance_answer: AttendanceAnswer | None = None
    # Exchange invited attendees to the record's live event (sendInvitations, with attendees): they would be mailed a
    # cancellation if invitations were turned off, so a later revision may not do that.
    invitations: bool = False

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

    One instance per process, shared by the invocation threads: the client keeps no per-call
    state and its connections come from urllib3's thread-safe pool.
    """

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self._table = client.table

    @classmethod
    def with_identity(
        cls, table_service_uri: str, table_name: str, credential: TokenCredential, *, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> TableRecordStateStore:
        """The store in Azure: the app's identity on an existing table (infra creates it; the app cannot)."""
        token = GraphToken(credential, STORAGE_SCOPE)
        return cls(TableClient(table_service_uri, table_name, bearer(token.bearer), **_client_options(read_timeout)))

    @classmethod
    def for_emulator(
        cls, connection_string: str, table_name: str, *, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> TableRecordStateStore:
        """The store on Azurite, creating the table if missing (a fresh emulator has none)."""
        store = cls(TableClient.for_emulator(connection_string, table_name, **_client_options(read_timeout)))
        reply = store._call("could not create", store._client.create_table)
        if reply.status >= 300 and reply.error_code != "TableAlreadyExists":
            raise store._store_error("could not create", reply)
        return store

    def read(self, external_id: str) -> RecordState | None:
        reply = self._call("could not read from", self._client.get, external_id, STATE_ROW_KEY)
        if reply.status == 404 and reply.error_code != "TableNotFound":
            return None
        if reply.entity is None or reply.etag is None:
            raise self._store_error("could not read from", reply)
        return _from_entity(external_id, reply.entity, reply.etag)

    def write(self, state: RecordState, expected: RecordState | None) -> RecordState:
        _check_write(state, expected)
        entity = _to_entity(state)
        if expected is None:
            reply = self._call("could not write to", self._client.insert, entity)
        else:
            assert expected.etag is not None  # _check_write refuses an expected state without one
            reply = self._call("could not write to", self._client.replace, entity, expected.etag)
        if reply.status < 300 and reply.etag is not None:
            return replace(state, etag=reply.etag)
        if reply.status in (409, 412) and reply.error_code != "TableNotFound":
            # The client sends a request again after a dropped connection: the first may have been applied, and the
            # second then meets it. A write that finds its own write (by its WriteId) is done, not a conflict.
            own = self._call("could not read from", self._client.get, state.external_id, STATE_ROW_KEY)
            if own.entity is not None and own.etag is not None and own.entity.get(WRITE_ID) == entity[WRITE_ID]:
                return replace(state, etag=own.etag)
        if reply.status == 409 and expected is None and reply.error_code != "TableNotFound":
            raise StateConflict(f"the record's state already exists in table {self._table!r}")
        if reply.status == 412:
            raise StateConflict(f"the record's state in table {self._table!r} changed since it was read")
        if reply.status == 404 and expected is not None and reply.error_code != "TableNotFound":
            # Replacing an entity that is gone: it changed since it was read (the If-Match cannot hold).
            raise StateConflict(f"the record's state in table {self._table!r} was removed since it was read")
        raise self._store_error("could not write to", reply)

    def close(self) -> None:
        self._client.close()

    def _call(self, doing: str, call: Callable[..., TableReply], *args: Any) -> TableReply:
        try:
            return call(*args)
        except TransportError as error:
            # Only the failure's kind: the message of requests and urllib3 carries the URL, and with it the record's key.
            raise StateStoreError(f"the record state store {doing} table {self._table!r}: {error.code}") from error

    def _store_error(self, doing: str, reply: TableReply) -> StateStoreError:
        detail = f"{reply.status} {reply.error_code or 'unexpected answer'} (request-id {reply.request_id})"
        problem = f"the record state store {doing} table {self._table!r}: {detail}"
        if reply.status in (401, 403):
            problem += "; grant the function app's identity Storage Table Data Contributor on the storage account"
        elif reply.error_code == "TableNotFound":
            problem += "; the table does not exist: deploy infra/, which creates it"
        return StateStoreError(problem)


def _client_options(read_timeout: float) -> dict[str, Any]:
    return {
        "connect_timeout": CONNECTION_TIMEOUT_SECONDS,
        "read_timeout": read_timeout,
        "max_connections": MAX_CONNECTIONS,
    }


def _to_entity(state: RecordState) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": state.external_id,
        "RowKey": STATE_ROW_KEY,
        WRITE_ID: secrets.token_hex(8),
        "Cancelled": state.cancelled,
        "UpdatedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "UpdatedAt@odata.type": "Edm.DateTime",
    }
    # Absent rather than null: Table storage has no null, a property is either there or not.
    if state.revision is not None:
        entity["Revision"] = str(state.revision)
        entity["Revision@odata.type"] = "Edm.Int64"
    if state.organizer_id is not None:
        entity["OrganizerId"] = state.organizer_id
    if state.meeting_id is not None:
        entity["MeetingId"] = state.meeting_id
    if state.outcome is not None:
        entity["Outcome"] = state.outcome.to_json()
    if state.leftovers:
        entity["Leftovers"] = json.dumps([list(leftover) for leftover in state.leftovers])
    if state.applied_booking is not None:
        entity["AppliedBooking"] = base64.b64encode(_compressed(state.applied_booking)).decode("ascii")
        entity["AppliedBooking@odata.type"] = "Edm.Binary"
    if state.reapply:
        entity["Reapply"] = True
    if state.meeting_unknown:
        entity["MeetingUnknown"] = True
    if state.channel_thread_id is not None:
        entity["ChannelThreadId"] = state.channel_thread_id
    if state.calendar:
        entity["Calendar"] = True
    if state.event_id is not None:
        entity["EventId"] = state.event_id
    if state.incarnation:
        entity["Incarnation"] = str(state.incarnation)
        entity["Incarnation@odata.type"] = "Edm.Int64"
    if state.attendance_scheduled is not None:
        entity["AttendanceScheduled"] = str(state.attendance_scheduled)
        entity["AttendanceScheduled@odata.type"] = "Edm.Int64"
    if state.attendance_window is not None:
        entity["AttendanceWindow"] = state.attendance_window.to_json()
    if state.attendance_answer is not None:
        entity["AttendanceAnswer"] = state.attendance_answer.to_json()
    if state.invitations:
        entity["Invitations"] = True
    return entity


def _from_entity(external_id: str, entity: dict[str, Any], etag: str) -> RecordState:
    # With odata=nometadata an Int64 arrives as a string; what the store wrote is trusted no further than its types.
    revision = entity.get("Revision")
    if revision is not None and not (isinstance(revision, str) and revision.isascii() and revision.isdigit()):
        raise StateStoreError(f"the record's stored state has an unreadable Revision (a {type(revision).__name__})")
    if revision is not None and int(revision) > _INT64_MAX:
        raise StateStoreError("the record's stored state has a Revision beyond Int64")
    organizer_id, meeting_id = entity.get("OrganizerId"), entity.get("MeetingId")
    event_id = entity.get("EventId")
    return RecordState(
        external_id=external_id,
        revision=None if revision is None else int(revision),
        cancelled=entity.get("Cancelled") is True,
        organizer_id=organizer_id if isinstance(organizer_id, str) else None,
        meeting_id=meeting_id if isinstance(meeting_id, str) else None,
        etag=etag,
        outcome=AppliedOutcome.from_json(entity["Outcome"]) if entity.get("Outcome") else None,
        leftovers=_leftovers(entity.get("Leftovers")),
        applied_booking=_applied_booking(entity.get("AppliedBooking")),
        reapply=entity.get("Reapply") is True,
        meeting_unknown=entity.get("MeetingUnknown") is True,
        channel_thread_id=_text(entity.get("ChannelThreadId")),
        calendar=entity.get("Calendar") is True,
        event_id=event_id if isinstance(event_id, str) else None,
        incarnation=_count(entity.get("Incarnation")),
        attendance_scheduled=_revision_or_none(entity.get("AttendanceScheduled")),
        attendance_window=AttendanceWindow.from_json(entity["AttendanceWindow"]) if entity.get("AttendanceWindow") else None,
        attendance_answer=AttendanceAnswer.from_json(entity["AttendanceAnswer"]) if entity.get("AttendanceAnswer") else None,
        invitations=entity.get("Invitations") is True,
    )


def _compressed(body: bytes) -> bytes:
    """zlib with a 4 KiB window: zlib.compress's default 32 KiB window and hash tables take about 50 µs to
    set up, eight times what a booking of a few hundred bytes takes to compress. Any zlib
    reader inflates it; a booking's repeats (its attendees) lie within a few KiB of each other."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 4)
    return compressor.compress(body) + compressor.flush()


def _applied_booking(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        # Bounded: a stored value is inflated to at most the largest booking kept, never more.
        body = zlib.decompressobj().decompress(base64.b64decode(text, validate=True), MAX_KEPT_BOOKING_BYTES + 1)
    except (ValueError, zlib.error):
        return None
    return body if len(body) <= MAX_KEPT_BOOKING_BYTES else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _leftovers(text: object) -> tuple[Leftover, ...]:
    try:
        items = json.loads(text) if isinstance(text, str) else []
    except (ValueError, RecursionError):
        return ()
    if not isinstance(items, list):
        return ()
    return tuple(
        tuple(item)
        for item in items
        if isinstance(item, list)
        and all(isinstance(part, str) for part in item)
        and (len(item) == 2 or (len(item) == 3 and item[2] in (LEFTOVER_EVENT, LEFTOVER_MEETING)))
    )


def leftover_is_event(leftover: Leftover, state: RecordState) -> bool:
    """Whether a leftover is an Outlook event: by the mode it names, else (a pair) by the record's mode."""
    return leftover[2] == LEFTOVER_EVENT if len(leftover) == 3 else state.calendar


def _revision_or_none(value: object) -> int | None:
    """A revision the store wrote (an Int64 as text), or None when absent or unreadable: nothing was scheduled then."""
    if isinstance(value, str) and 0 < len(value) <= 19 and value.isascii() and value.isdigit() and int(value) <= _INT64_MAX:
        return int(value)
    return None


def _count(value: object) -> int:
    try:
        return max(0, int(str(value))) if value is not None else 0
    except ValueError:
        return 0
