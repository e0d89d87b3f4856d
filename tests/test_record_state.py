"""The record-state store: one behaviour, two stores (memory, and Table storage on Azurite)."""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from azure.core.credentials import AccessToken

from devtools.azurite import azurite_table_service, emulator_connection_string
from shared.errors import RetryableError
from shared.record_state import (
    LEFTOVER_EVENT,
    LEFTOVER_MEETING,
    MAX_KEPT_BOOKING_BYTES,
    STATE_ROW_KEY,
    MemoryRecordStateStore,
    RecordState,
    RecordStateStore,
    StateConflict,
    StateStoreError,
    TableRecordStateStore,
    leftover_is_event,
)
from shared.table_client import TableClient, TableReply

ORGANIZER_ID = "7b1c1e7a-5f0e-4c39-9c3d-2f1f2d6f7a10"
MEETING_ID = "MSo3YjFjMWU3YS01ZjBlLTRjMzktOWMzZC0yZjFmMmQ2ZjdhMTAqMA**MjAyNi0xMi0wMVQxMDowMDowMA=="
WRITERS = 8
# Bounds a test that would otherwise hang if a timeout were not applied; not a performance assertion.
LIVENESS_SECONDS = 60
CLIENT_OPTIONS = {"connect_timeout": 2.0, "read_timeout": 5.0, "max_connections": 4}


def table_name() -> str:
    return f"state{uuid.uuid4().hex}"


@pytest.fixture(params=["memory", "table"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordStateStore]:
    if request.param == "memory":
        opened: RecordStateStore = MemoryRecordStateStore()
    else:
        opened = TableRecordStateStore.for_emulator(request.getfixturevalue("azurite"), table_name())
    yield opened
    opened.close()


def new_record() -> str:
    return str(uuid.uuid4())


def state(external_id: str, revision: int | None = 1, cancelled: bool = False) -> RecordState:
    return RecordState(
        external_id=external_id, revision=revision, cancelled=cancelled, organizer_id=ORGANIZER_ID, meeting_id=MEETING_ID
    )


def test_a_record_never_written_has_no_state(store: RecordStateStore) -> None:
    assert store.read(new_record()) is None


@pytest.mark.parametrize(
    ("revision", "cancelled", "organizer_id", "meeting_id"),
    [
        (None, False, ORGANIZER_ID, MEETING_ID),
        (0, False, ORGANIZER_ID, None),
        (42, True, ORGANIZER_ID, None),
        (2**63 - 1, False, None, MEETING_ID),
    ],
    ids=["no-revision", "revision-0-no-meeting", "cancelled", "largest-revision-no-organizer"],
)
def test_an_inserted_state_reads_back_field_for_field(
    store: RecordStateStore, revision: int | None, cancelled: bool, organizer_id: str | None, meeting_id: str | None
) -> None:
    external_id = new_record()
    written = store.write(RecordState(external_id, revision, cancelled, organizer_id, meeting_id), expected=None)

    assert written.etag
    assert written == RecordState(external_id, revision, cancelled, organizer_id, meeting_id, etag=written.etag)
    assert store.read(external_id) == written


def test_inserting_a_record_that_exists_conflicts(store: RecordStateStore) -> None:
    external_id = new_record()
    first = store.write(state(external_id, revision=1), expected=None)

    with pytest.raises(StateConflict):
        store.write(state(external_id, revision=2), expected=None)
    assert store.read(external_id) == first


def test_replacing_with_the_current_etag_stores_the_new_state_under_a_new_etag(store: RecordStateStore) -> None:
    external_id = new_record()
    first = store.write(state(external_id, revision=1), expected=None)

    second = store.write(RecordState(external_id, 2, True, ORGANIZER_ID, None), expected=first)

    assert second.etag and second.etag != first.etag
    assert store.read(external_id) == RecordState(external_id, 2, True, ORGANIZER_ID, None, etag=second.etag)


def test_replacing_with_a_stale_etag_conflicts_and_keeps_the_newer_state(store: RecordStateStore) -> None:
    external_id = new_record()
    first = store.write(state(external_id, revision=1), expected=None)
    second = store.write(state(external_id, revision=3), expected=first)

    with pytest.raises(StateConflict):
        store.write(state(external_id, revision=2), expected=first)
    assert store.read(external_id) == second


def test_a_conflict_is_retryable(store: RecordStateStore) -> None:
    external_id = new_record()
    store.write(state(external_id), expected=None)

    with pytest.raises(RetryableError):
        store.write(state(external_id), expected=None)


@pytest.mark.parametrize("existing", [False, True], ids=["inserting", "replacing"])
def test_of_concurrent_writers_from_the_same_read_exactly_one_wins(store: RecordStateStore, existing: bool) -> None:
    external_id = new_record()
    expected = store.write(state(external_id, revision=0), expected=None) if existing else None
    start = threading.Barrier(WRITERS)

    def write(revision: int) -> RecordState | StateConflict:
        start.wait()
        try:
            return store.write(state(external_id, revision=revision), expected=expected)
        except StateConflict as conflict:
            return conflict

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        outcomes = list(pool.map(write, range(1, WRITERS + 1)))

    winners = [outcome for outcome in outcomes if isinstance(outcome, RecordState)]
    assert len(winners) == 1
    assert sum(isinstance(outcome, StateConflict) for outcome in outcomes) == WRITERS - 1
    assert store.read(external_id) == winners[0]


def test_a_write_for_another_record_than_expected_is_refused(store: RecordStateStore) -> None:
    stored = store.write(state(new_record()), expected=None)

    with pytest.raises(ValueError, match="same record"):
        store.write(state(new_record()), expected=stored)


def test_a_write_expecting_a_state_that_was_never_stored_is_refused(store: RecordStateStore) -> None:
    external_id = new_record()
    store.write(state(external_id), expected=None)

    with pytest.raises(ValueError, match="no etag"):
        store.write(state(external_id, revision=2), expected=state(external_id))


@pytest.mark.parametrize("revision", [-1, 2**63], ids=["negative", "beyond-int64"])
def test_a_revision_outside_int64_is_refused_before_reaching_the_store(store: RecordStateStore, revision: int) -> None:
    external_id = new_record()

    with pytest.raises(ValueError, match="Int64"):
        store.write(state(external_id, revision=revision), expected=None)
    assert store.read(external_id) is None


def test_for_emulator_creates_the_table_once_and_reuses_it(azurite: str) -> None:
    name = table_name()
    first = TableRecordStateStore.for_emulator(azurite, name)
    external_id = new_record()
    written = first.write(state(external_id), expected=None)
    first.close()

    again = TableRecordStateStore.for_emulator(azurite, name)
    assert again.read(external_id) == written
    again.close()


def test_a_stopped_store_raises_a_store_error_naming_the_table_but_not_the_record() -> None:
    name = table_name()
    external_id = new_record()
    with azurite_table_service() as connection_string:
        store = TableRecordStateStore.for_emulator(connection_string, name)
        written = store.write(state(external_id), expected=None)

    failing_calls: list[Callable[[], object]] = [
        lambda: store.read(external_id),
        lambda: store.write(state(external_id), expected=None),
        lambda: store.write(state(external_id, revision=2), expected=written),
    ]
    for call in failing_calls:
        with pytest.raises(StateStoreError) as raised:
            call()
        assert name in str(raised.value)
        assert external_id not in str(raised.value)
        assert isinstance(raised.value, RetryableError)
    store.close()


def test_a_store_that_accepts_but_never_answers_gives_up_after_the_read_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel's backlog; nothing ever reads or answers
        connection_string = emulator_connection_string(silent.getsockname()[1])

        with ThreadPoolExecutor(max_workers=1) as pool:
            attempt = pool.submit(TableRecordStateStore.for_emulator, connection_string, table_name(), read_timeout=0.2)
            with pytest.raises(StateStoreError, match="ReadTimeout"):
                attempt.result(timeout=LIVENESS_SECONDS)


def test_a_missing_table_is_a_store_error_that_says_how_to_fix_it(azurite: str) -> None:
    missing = TableRecordStateStore(TableClient.for_emulator(azurite, table_name(), **CLIENT_OPTIONS))

    with pytest.raises(StateStoreError, match="does not exist"):
        missing.read(new_record())
    with pytest.raises(StateStoreError, match="does not exist"):
        missing.write(state(new_record()), expected=None)
    missing.close()


class RecordingCredential:
    """A TokenCredential that records the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("token", int(time.time()) + 3600)


def test_the_identity_store_asks_for_a_storage_token_and_reports_an_unreachable_endpoint() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    credential = RecordingCredential()
    store = TableRecordStateStore.with_identity(f"https://127.0.0.1:{port}", "bridgestate", credential)

    with pytest.raises(StateStoreError, match="'bridgestate'"):
        store.read(new_record())
    assert credential.scopes == [("https://storage.azure.com/.default",)]
    store.close()


def test_a_key_with_a_quote_spaces_and_accents_reads_back(store: RecordStateStore) -> None:
    external_id = "o'Brien ü (1)"
    written = store.write(state(external_id), expected=None)

    assert store.read(external_id) == written
    assert store.write(state(external_id, revision=2), expected=written).revision == 2


@pytest.mark.parametrize(
    "body",
    [
        b'{"source":"crm","recordId":"r-1","subject":"Weekly review"}',
        # The largest booking kept, of bytes that do not compress: still within an Edm.Binary property's 64 KiB.
        random.Random(12).randbytes(MAX_KEPT_BOOKING_BYTES),
    ],
    ids=["small", "largest-incompressible"],
)
def test_a_kept_booking_reads_back_byte_for_byte(store: RecordStateStore, body: bytes) -> None:
    external_id = new_record()
    written = store.write(replace(state(external_id), applied_booking=body), expected=None)

    assert store.read(external_id) == written
    assert written.applied_booking == body


def test_a_booking_kept_by_an_earlier_version_still_reads_back(azurite: str) -> None:
    """An older kept booking was zlib.compress's default stream: states already stored must stay readable."""
    store = TableRecordStateStore.for_emulator(azurite, table_name())
    client = TableClient.for_emulator(azurite, store._table, **CLIENT_OPTIONS)
    external_id, body = new_record(), b'{"source":"crm","recordId":"r-1","subject":"Weekly review"}' * 20
    entity = {
        "PartitionKey": external_id,
        "RowKey": STATE_ROW_KEY,
        "Revision": "1",
        "Revision@odata.type": "Edm.Int64",
        "AppliedBooking": base64.b64encode(zlib.compress(body)).decode("ascii"),
        "AppliedBooking@odata.type": "Edm.Binary",
    }
    assert client.insert(entity).status == 204

    read = store.read(external_id)

    assert read is not None and read.applied_booking == body
    client.close()
    store.close()


EVENT_ID = "AAMkAGI2TG93AAA="


def test_leftovers_in_either_mode_read_back_each_with_its_mode(store: RecordStateStore) -> None:
    """A standalone record's state lists a meeting left behind (a pair, in the record's mode) and an event (in the
    other mode, which it names): each reads back in its own mode."""
    external_id = new_record()
    leftovers = ((ORGANIZER_ID, MEETING_ID), (ORGANIZER_ID, EVENT_ID, LEFTOVER_EVENT))
    written = store.write(replace(state(external_id, cancelled=True), meeting_id=None, leftovers=leftovers), expected=None)

    read = store.read(external_id)

    assert read == written and read.leftovers == leftovers
    assert [leftover_is_event(leftover, read) for leftover in read.leftovers] == [False, True]
    calendar = store.write(replace(read, calendar=True, leftovers=((ORGANIZER_ID, MEETING_ID, LEFTOVER_MEETING),)), read)
    assert [leftover_is_event(leftover, calendar) for leftover in calendar.leftovers] == [False]
    assert store.read(external_id) == calendar


def test_leftovers_stored_as_pairs_by_an_earlier_version_read_back_in_the_records_mode(azurite: str) -> None:
    """States stored before leftovers named their mode hold pairs, in the record's mode; an unknown mode is dropped."""
    store = TableRecordStateStore.for_emulator(azurite, table_name())
    client = TableClient.for_emulator(azurite, store._table, **CLIENT_OPTIONS)
    external_id = new_record()
    entity = {
        "PartitionKey": external_id,
        "RowKey": STATE_ROW_KEY,
        "Revision": "2",
        "Revision@odata.type": "Edm.Int64",
        "Cancelled": False,
        "OrganizerId": ORGANIZER_ID,
        "Calendar": True,
        "EventId": "AAMkAGI2TG94AAA=",
        "Leftovers": json.dumps([[ORGANIZER_ID, EVENT_ID], [ORGANIZER_ID, MEETING_ID, "webinar"]]),
    }
    assert client.insert(entity).status == 204

    read = store.read(external_id)

    assert read is not None and read.leftovers == ((ORGANIZER_ID, EVENT_ID),)
    assert leftover_is_event(read.leftovers[0], read)
    client.close()
    store.close()


class AnswerLostOnce:
    """A TableClient whose writes are applied, their answer lost, and sent again, as the client's retry of a dropped
    connection sends them: the second one meets the first one's write (412, or 409 for an insert)."""

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self.table = client.table

    def get(self, partition_key: str, row_key: str) -> TableReply:
        return self._client.get(partition_key, row_key)

    def insert(self, entity: dict[str, object]) -> TableReply:
        self._client.insert(entity)
        return self._client.insert(entity)

    def replace(self, entity: dict[str, object], etag: str) -> TableReply:
        self._client.replace(entity, etag)
        return self._client.replace(entity, etag)

    def close(self) -> None:
        self._client.close()


@pytest.mark.parametrize("existing", [False, True], ids=["insert", "replace"])
def test_a_write_sent_again_after_its_answer_was_lost_finds_its_own_write_and_counts_as_done(
    azurite: str, existing: bool
) -> None:
    name = table_name()
    TableRecordStateStore.for_emulator(azurite, name).close()  # the table
    store = TableRecordStateStore(AnswerLostOnce(TableClient.for_emulator(azurite, name, **CLIENT_OPTIONS)))
    external_id = new_record()
    expected = store.write(state(external_id, revision=1), expected=None) if existing else None

    written = store.write(state(external_id, revision=2), expected=expected)

    assert store.read(external_id) == written == replace(state(external_id, revision=2), etag=written.etag)
    with pytest.raises(StateConflict):  # another writer's write of the same state is still a conflict
        store.write(state(external_id, revision=2), expected=expected)
    store.close()
