"""What the record state keeps for the attendance follow-up: the revision whose follow-up is scheduled, and what its
answer published."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from shared.booking import parse_booking
from shared.ordering import applied_state
from shared.record_state import (
    STATE_ROW_KEY,
    AppliedOutcome,
    AttendanceAnswer,
    MemoryRecordStateStore,
    RecordState,
    RecordStateStore,
    TableRecordStateStore,
)
from shared.table_client import TableClient
from tests.follow_ups import attendance_booking

CLIENT_OPTIONS = {"connect_timeout": 2.0, "read_timeout": 5.0, "max_connections": 4}


@pytest.fixture(params=["memory", "table"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordStateStore]:
    opened: RecordStateStore = (
        MemoryRecordStateStore()
        if request.param == "memory"
        else TableRecordStateStore.for_emulator(request.getfixturevalue("azurite"), f"state{uuid.uuid4().hex}")
    )
    yield opened
    opened.close()


def state(**fields: object) -> RecordState:
    return replace(RecordState(str(uuid.uuid4()), 3, False, "7b1c1e7a-5f0e-4c39-9c3d-2f1f2d6f7a10", "MSo3YjFj"), **fields)


def test_the_scheduled_revision_reads_back(store: RecordStateStore) -> None:
    written = store.write(state(attendance_scheduled=2**63 - 1), expected=None)

    assert store.read(written.external_id) == written


def test_the_published_answer_reads_back(store: RecordStateStore) -> None:
    answer = AttendanceAnswer(("a" * 32, "b" * 32), "c" * 32)
    written = store.write(state(attendance_scheduled=3, attendance_answer=answer), expected=None)

    assert store.read(written.external_id) == written


@pytest.mark.parametrize("stored", ["", "-1", "3.0", "9223372036854775808", "1" * 5000, "٣"])
def test_an_unreadable_scheduled_revision_reads_as_none_scheduled(azurite: str, stored: str) -> None:
    store = TableRecordStateStore.for_emulator(azurite, f"state{uuid.uuid4().hex}")
    client = TableClient.for_emulator(azurite, store._table, **CLIENT_OPTIONS)
    external_id = str(uuid.uuid4())
    entity = {"PartitionKey": external_id, "RowKey": STATE_ROW_KEY, "Revision": "3", "Revision@odata.type": "Edm.Int64"}
    assert client.insert({**entity, "AttendanceScheduled": stored}).status == 204

    read = store.read(external_id)

    assert read is not None and read.attendance_scheduled is None
    client.close()
    store.close()


def test_every_later_upsert_keeps_the_scheduled_revision_and_its_published_answer() -> None:
    """A redelivery of the revision then finds it (and schedules no second follow-up); a newer revision does not."""
    previous = state(attendance_scheduled=3, attendance_answer=AttendanceAnswer(("a" * 32,), "c" * 32))
    booking = parse_booking(json.dumps(attendance_booking(revision=4)).encode())

    stored = applied_state(
        previous,
        booking,
        previous.external_id,
        meeting_id=previous.meeting_id,
        cancelled=False,
        outcome=AppliedOutcome("key", "updated"),
    )

    assert stored.attendance_scheduled == 3
    assert stored.attendance_answer == previous.attendance_answer


@pytest.mark.parametrize("revision", [3, 4, None])
def test_a_cancel_drops_the_follow_up_so_that_no_later_booking_backs_it_again(revision: int | None) -> None:
    """A cancel ends the incarnation: its follow-up reports nothing, even once a booking without revision (which keeps
    the stored revision) books the record again."""
    previous = state(attendance_scheduled=3, attendance_answer=AttendanceAnswer(("a" * 32,), "c" * 32))
    cancel = {
        "schemaVersion": 1,
        "source": "crm-eu",
        "recordId": "BK-10023",
        "action": "cancel",
        "organizerId": previous.organizer_id,
    }
    if revision is not None:
        cancel["revision"] = revision
    booking = parse_booking(json.dumps(cancel).encode())

    stored = applied_state(
        previous, booking, previous.external_id, meeting_id=None, cancelled=True, outcome=AppliedOutcome("key", "cancelled")
    )

    assert (stored.attendance_scheduled, stored.attendance_window, stored.attendance_answer) == (None, None, None)


def test_an_answer_written_by_the_previous_release_reads_without_its_look() -> None:
    """Its redelivery publishes it again, as that release did; a later look cannot be told from it."""
    assert AttendanceAnswer.from_json('[[], "attendance_unavailable"]') == AttendanceAnswer((), "attendance_unavailable")


def test_an_answer_given_instead_of_parts_reads_back(store: RecordStateStore) -> None:
    answer = AttendanceAnswer(("a" * 32,), "c" * 32, 2, '{"code": "NotFound", "message": "gone"}')
    written = store.write(state(attendance_scheduled=3, attendance_answer=answer), expected=None)

    assert store.read(written.external_id) == written
