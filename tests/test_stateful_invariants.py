"""The bridge's promise as a stateful property: whatever the interleaving of bookings, faults and redeliveries.

Hypothesis drives a RuleBasedStateMachine over the real parts (the function as the host calls it, the
Graph simulator on loopback, the state table on Azurite) and the Service Bus-like broker
(tests.service_bus_harness). Rules send upserts and cancels, with and without revisions, across a few
records and two organizers, stale re-sends, and dead-letter replays; inject Graph faults (429 with
Retry-After from 0 to absurd, HTTP dates at the edges, 5xx, dropped connections, slow answers, a 400 on
whichever call comes next, 403 for one organizer); and run two deliveries of one record at once (of two
revisions, or one message twice), as when a session lock is lost. After every step:

- at most one live meeting per record, under the organizer the record state names, and none for a
  cancelled record; its subject is that of the newest applied revision. For the calendar record
  the same of its Outlook events: at most one live, under that organizer, with the newest applied revision's
  subject, and none after a cancel. The one allowance: a moved booking's old meeting (or event) that Graph
  refused to delete stays live while the record state lists it as left behind (the result warned; the
  record's next delivery retires it);
- every booking message has one result a consumer can read after duplicate detection, or is
  dead-lettered with its `failed` result (attempted); no two booking messages share a result id;
- after the meeting (upserts that ask for the attendance report, of meetings held or not): at most one `attendance`
  result per revision of a record, and only for a revision that asked (besides one that says its follow-up gave up,
  as a booking's `failed`), and none published while the record is cancelled at that revision or a later one;
- nothing outside the closed error set escapes the function.

CI runs a fixed seed and a bounded number of examples; HYPOTHESIS_PROFILE=long runs many more (tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from shared import graph_throttle
from shared.errors import RetryableError
from shared.event_request import EXTERNAL_ID_PROPERTY
from shared.external_id import derive_external_id
from shared.record_state import UNKNOWN_MEETING, TableRecordStateStore
from shared.result import ResultMessage, ResultStatus
from shared.runtime import reset_pipeline
from simulator import Fault, GraphSimulator
from tests.conftest import HYPOTHESIS_PROFILE, SHORTEST_PAUSE_SECONDS, TEST_NAMESPACE, indexed_functions
from tests.service_bus_harness import ServiceBusBroker

ORGANIZERS = ("0b6f3c1a-2d4e-4f60-8a1b-3c5d7e9f1a2b", "1c7a4d2b-3e5f-4a71-9b2c-4d6e8f0a2b3c")
# Records with revisions, and one without: its bookings apply in delivery order.
RECORDS = ("R1", "R2", "C1")
# Its bookings carry `calendar`: its meeting is an Outlook event on the organizer's calendar.
CALENDAR_RECORDS = frozenset({"C1"})
UNREVISIONED = "U1"
MAX_DELIVERY_COUNT = 3
RUN_TIMEOUT_SECONDS = 60

settings.register_profile(
    "stateful-ci",
    max_examples=12,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "stateful-long", max_examples=300, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
)
PROFILE = settings.get_profile(f"stateful-{HYPOTHESIS_PROFILE}")

FAULTS = st.sampled_from(
    [
        Fault(status=429, retry_after="0"),
        Fault(status=429, retry_after="1"),
        Fault(status=429, retry_after="86400000"),
        Fault(status=429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT"),
        Fault(status=429, retry_after="Mon, 01 Jan 0001 00:00:00 GMT"),
        Fault(status=503),
        Fault(status=500),
        Fault(status=400),
        Fault(drop_connection=True),
        Fault(drop_after_processing=True),
        Fault(delay_seconds=0.3),
    ]
)


@dataclass(frozen=True)
class Sent:
    message_id: str
    record: str
    document: dict[str, Any]


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self, graph: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.graph = graph
        graph.reset()
        self.table = f"state{uuid.uuid4().hex}"
        monkeypatch.setenv("RECORD_STATE_TABLE", self.table)
        self.states = TableRecordStateStore.for_emulator(azurite, self.table)
        reset_pipeline()
        self.function = indexed_functions()["create_meeting"].get_user_function()
        self.broker = ServiceBusBroker(
            self.function, max_delivery_count=MAX_DELIVERY_COUNT, workers=3, results_send_failure_rate=0.1, seed=7
        )
        self.broker.install(monkeypatch)
        self.revisions: dict[str, int] = defaultdict(int)
        self.sent: list[Sent] = []
        self.bookings: dict[tuple[str, int], dict[str, Any]] = {}
        self.subjects = iter(range(1_000_000))
        self.attendance_asked: set[tuple[str, int]] = set()
        self.results_checked = 0

    def teardown(self) -> None:
        self.states.close()
        reset_pipeline()

    # Bookings

    @rule(record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS), step=st.integers(1, 2))
    def upsert(self, record: str, organizer: str, step: int) -> None:
        self.revisions[record] += step
        self._send(record, self._upsert(record, organizer, self.revisions[record]))

    @rule(record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS))
    def cancel(self, record: str, organizer: str) -> None:
        self.revisions[record] += 1
        self._send(record, self._cancel(record, organizer, self.revisions[record]))

    @rule(organizer=st.sampled_from(ORGANIZERS), cancel=st.booleans())
    def unrevisioned(self, organizer: str, cancel: bool) -> None:
        document = self._cancel(UNREVISIONED, organizer, None) if cancel else self._upsert(UNREVISIONED, organizer, None)
        self._send(UNREVISIONED, document)

    @rule(record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS), held=st.booleans())
    def upsert_asking_for_attendance(self, record: str, organizer: str, held: bool) -> None:
        """The meeting (booked long ago) took place if `held`: Teams made a report of its live meeting under that
        organizer, if it has one. The follow-up looks at once, and reports it or that there is none."""
        if held:
            self._hold(record, organizer)
        revision = self._next_revision(record)
        document = self._upsert(record, organizer, revision)
        document["attendance"] = {"report": True}
        self.attendance_asked.add((record, revision))
        self._send(record, document)

    @rule(record=st.sampled_from(RECORDS), data=st.data())
    def stale_resend(self, record: str, data: st.DataObject) -> None:
        older = [sent for sent in self.sent if sent.record == record]
        if older:
            self._send(record, data.draw(st.sampled_from(older)).document)

    @rule(data=st.data())
    def replay_a_dead_letter(self, data: st.DataObject) -> None:
        if self.broker.dead_letters:
            letter = data.draw(st.sampled_from(self.broker.dead_letters)).message
            # With its properties, as bridgectl dlq replay sends it: a re-enqueued copy or a follow-up stays the bridge's.
            self.broker.send(
                letter.body,
                message_id=letter.message_id,
                session_id=letter.session_id,
                application_properties=letter.application_properties,
            )
            self.broker.run_until_idle(RUN_TIMEOUT_SECONDS)

    # Faults

    @rule(faults=st.lists(FAULTS, min_size=1, max_size=3), record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS))
    def upsert_under_faults(self, faults: list[Fault], record: str, organizer: str) -> None:
        for fault in faults:
            self.graph.inject(fault)
        self.upsert(record, organizer, 1)

    @rule(record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS))
    def move_away_from_a_denied_organizer(self, record: str, organizer: str) -> None:
        self.graph.deny_organizer(organizer)
        other = next(candidate for candidate in ORGANIZERS if candidate != organizer)
        try:
            self.upsert(record, other, 1)
        finally:
            self.graph.allow_organizer(organizer)

    @rule(
        record=st.sampled_from(RECORDS),
        organizer=st.sampled_from(ORGANIZERS),
        cancel_second=st.booleans(),
        attendance=st.booleans(),
    )
    def two_deliveries_at_once(self, record: str, organizer: str, cancel_second: bool, attendance: bool = False) -> None:
        """A lost session lock: the record's next message runs while the first is still in Graph (the first may ask
        for the attendance report: its follow-up comes after both)."""
        self.graph.inject(Fault(delay_seconds=0.5))
        first = self._upsert(record, organizer, self._next_revision(record))
        if attendance:
            first["attendance"] = {"report": True}
            self.attendance_asked.add((record, first["revision"]))
        second_revision = self._next_revision(record)
        second = (
            self._cancel(record, organizer, second_revision)
            if cancel_second
            else self._upsert(record, organizer, second_revision)
        )
        messages = [self._record_sent(record, first), self._record_sent(record, second)]
        threads = [threading.Thread(target=self._deliver_until_settled, args=(message,)) for message in messages]
        threads[0].start()
        threading.Event().wait(0.15)
        threads[1].start()
        for thread in threads:
            thread.join()
        self.broker.run_until_idle(RUN_TIMEOUT_SECONDS)  # re-enqueued copies, if any

    @rule(record=st.sampled_from(RECORDS), organizer=st.sampled_from(ORGANIZERS), slow_call=st.integers(0, 2))
    def one_booking_delivered_twice_at_once(self, record: str, organizer: str, slow_call: int) -> None:
        """A lost session lock on one message: it runs again on another invocation while its first delivery is still
        in Graph (which of that delivery's calls is slow decides what the second one finds)."""
        for _ in range(slow_call):
            self.graph.inject(Fault())
        self.graph.inject(Fault(delay_seconds=0.5))
        message = self._record_sent(record, self._upsert(record, organizer, self._next_revision(record)))
        threads = [threading.Thread(target=self._deliver_until_settled, args=(message,)) for _ in range(2)]
        threads[0].start()
        threading.Event().wait(0.15)
        threads[1].start()
        for thread in threads:
            thread.join()
        self.broker.run_until_idle(RUN_TIMEOUT_SECONDS)

    # Invariants

    @invariant()
    def teams_matches_the_record_state(self) -> None:
        meetings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for meeting in self.graph.meetings():
            left_behind = self._left_behind()
            organizer = meeting["participants"]["organizer"]["identity"]["user"]["id"]
            if meeting["id"] not in left_behind and (organizer, meeting["externalId"]) not in left_behind:
                meetings[meeting["externalId"]].append(meeting)
        for record in (*RECORDS, UNREVISIONED):
            external_id = derive_external_id("stateful", record)
            live = meetings.get(external_id, [])
            assert len(live) <= 1, f"{record}: {len(live)} live meetings"
            state = self.states.read(external_id)
            if state is None or state.cancelled:
                assert live == [], f"{record}: a live meeting for a record that is {'cancelled' if state else 'unknown'}"
                continue
            if not live:
                continue  # the record's meeting was refused or never made; its result says so
            organizer = live[0]["participants"]["organizer"]["identity"]["user"]["id"]
            assert organizer == state.organizer_id, f"{record}: the meeting lives under another organizer"
            if record != UNREVISIONED and state.revision is not None:
                expected = self.bookings.get((record, state.revision))
                if expected is not None and expected.get("subject"):
                    assert live[0]["subject"] == expected["subject"], f"{record}: content older than revision {state.revision}"

    @invariant()
    def the_calendar_matches_the_record_state(self) -> None:
        left_behind = self._left_behind()
        for record in CALENDAR_RECORDS:
            external_id = derive_external_id("stateful", record)
            live = [
                event
                for event in self.graph.events()
                if EXTERNAL_ID_PROPERTY in event["_properties"]
                and event["_properties"][EXTERNAL_ID_PROPERTY] == external_id
                and event["id"] not in left_behind
                and (event["_organizerId"], external_id) not in left_behind
            ]
            assert len(live) <= 1, f"{record}: {len(live)} live events"
            state = self.states.read(external_id)
            if state is None or state.cancelled:
                assert live == [], f"{record}: a live event for a record that is {'cancelled' if state else 'unknown'}"
                continue
            if not live:
                continue
            assert live[0]["_organizerId"] == state.organizer_id, f"{record}: the event lives under another organizer"
            expected = self.bookings.get((record, state.revision)) if state.revision is not None else None
            if expected is not None and expected.get("subject"):
                assert live[0]["subject"] == expected["subject"], f"{record}: an event older than revision {state.revision}"

    @invariant()
    def every_booking_has_one_answer_or_a_dead_letter(self) -> None:
        accepted: dict[str, list[ResultMessage]] = defaultdict(list)
        ids_by_booking: dict[str, set[str]] = defaultdict(set)
        for message in self.broker.results:
            result = ResultMessage.model_validate_json(str(message))
            if result.status is ResultStatus.ATTENDANCE:
                continue  # the follow-up's answer after the meeting (attendance_is_reported_once_per_revision)
            accepted[result.booking_message_id].append(result)
            ids_by_booking[result.booking_message_id].add(str(message.message_id))
        dead = {letter.message.message_id for letter in self.broker.dead_letters}
        attempted = {failed.message_id for failed in self.broker.failed_result_sends}
        for sent in self.sent:
            results = accepted.get(sent.message_id, [])
            if sent.message_id in dead and not [r for r in results if r.status is not ResultStatus.FAILED]:
                assert results or attempted, f"{sent.message_id}: dead-lettered without a failed result"
                continue
            assert results, f"{sent.message_id}: no result and no dead letter"
            assert len([r for r in results if r.status is not ResultStatus.FAILED]) <= 1, sent.message_id
        owners: dict[str, str] = {}
        for booking, ids in ids_by_booking.items():
            for result_id in ids:
                assert owners.setdefault(result_id, booking) == booking, "two bookings share a result id"

    @invariant()
    def attendance_is_reported_once_per_revision_and_never_for_a_cancelled_record(self) -> None:
        reported: dict[tuple[str | None, int | None], set[str]] = defaultdict(set)
        for index, message in enumerate(self.broker.results):
            result = ResultMessage.model_validate_json(str(message))
            if result.status is not ResultStatus.ATTENDANCE:
                continue
            key = (result.record_id, result.revision)
            assert key in self.attendance_asked, f"{key}: an attendance result for a revision that did not ask"
            gave_up = result.error is not None and result.error.message.startswith("gave up after")
            if not gave_up:
                reported[key].add(str(message.message_id))
            if index >= self.results_checked:
                assert result.record_id is not None and result.revision is not None
                state = self.states.read(derive_external_id("stateful", result.record_id))
                assert state is not None and not (
                    state.cancelled and state.revision is not None and state.revision >= result.revision
                ), f"{key}: attendance published for a record cancelled at revision {state.revision if state else None}"
        for key, ids in reported.items():
            assert len(ids) <= 1, f"{key}: {len(ids)} attendance results"
        self.results_checked = len(self.broker.results)

    @invariant()
    def only_the_closed_error_set_escapes(self) -> None:
        unexpected = {
            error.error_type.__name__ for error in self.broker.escaped if not issubclass(error.error_type, RetryableError)
        }
        assert unexpected == set()

    # Helpers

    def _left_behind(self) -> set[Any]:
        """Meetings the record state lists as left behind (Graph refused to delete them for now): by id, or, for one
        whose id was never learned, as (organizer, externalId)."""
        left: set[Any] = set()
        for record in (*RECORDS, UNREVISIONED, *CALENDAR_RECORDS):
            external_id = derive_external_id("stateful", record)
            state = self.states.read(external_id)
            for organizer, held, *_mode in state.leftovers if state else ():
                left.add((organizer, external_id) if held == UNKNOWN_MEETING else held)
        return left

    def _hold(self, record: str, organizer: str) -> None:
        """The record's live meeting under `organizer` (its event's Teams meeting for a calendar record) takes place."""
        external_id = derive_external_id("stateful", record)
        if record in CALENDAR_RECORDS:
            urls = {
                event["onlineMeeting"]["joinUrl"]
                for event in self.graph.events()
                if event["_organizerId"] == organizer
                and event["_properties"].get(EXTERNAL_ID_PROPERTY) == external_id
                and event.get("onlineMeeting")
            }
            meetings = [meeting for meeting in self.graph.meetings() if meeting["joinWebUrl"] in urls]
        else:
            found = self.graph.meeting_for(organizer, external_id)
            meetings = [found] if found is not None else []
        for meeting in meetings:
            self.graph.hold_meeting(organizer, meeting["id"])

    def _next_revision(self, record: str) -> int:
        self.revisions[record] += 1
        return self.revisions[record]

    def _upsert(self, record: str, organizer: str, revision: int | None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schemaVersion": 1,
            "source": "stateful",
            "recordId": record,
            "action": "upsert",
            "organizerId": organizer,
            "subject": f"Session {next(self.subjects)}",
            "start": "2026-12-01T10:00:00+01:00",
            "end": "2026-12-01T10:30:00+01:00",
            "options": {"allowMeetingChat": "limited"},
        }
        if record in CALENDAR_RECORDS:
            document["calendar"] = {"sendInvitations": True}
            document["attendees"] = [{"upn": "ada@contoso.com"}]
        if revision is not None:
            document["revision"] = revision
            self.bookings[(record, revision)] = document
        return document

    def _cancel(self, record: str, organizer: str, revision: int | None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schemaVersion": 1,
            "source": "stateful",
            "recordId": record,
            "action": "cancel",
            "organizerId": organizer,
        }
        if revision is not None:
            document["revision"] = revision
            self.bookings[(record, revision)] = document
        return document

    def _record_sent(self, record: str, document: dict[str, Any]) -> Sent:
        sent = Sent(str(uuid.uuid4()), record, document)
        self.sent.append(sent)
        return sent

    def _send(self, record: str, document: dict[str, Any]) -> None:
        sent = self._record_sent(record, document)
        self.broker.send(_body(document), message_id=sent.message_id, session_id=derive_external_id("stateful", record))
        self.broker.run_until_idle(RUN_TIMEOUT_SECONDS)

    def _deliver_until_settled(self, sent: Sent) -> None:
        """One message outside the broker's session lock, redelivered as Service Bus would until it settles."""
        self.broker.deliver_without_lock(
            _body(sent.document), message_id=sent.message_id, session_id=derive_external_id("stateful", sent.record)
        )


def _body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=list(ORGANIZERS)) as simulator:
        yield simulator


def test_the_bridge_keeps_its_promise_under_any_interleaving(
    managed_identity: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = managed_identity
    _configure(graph, azurite, monkeypatch)
    run_state_machine_as_test(lambda: BridgeMachine(graph, azurite, monkeypatch), settings=PROFILE)


def _configure(graph: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Graph's Retry-After closes the instance for a moment only: the property is about order and answers, and the
    # broker's messages and the machine's drain run in real time.
    monkeypatch.setattr(graph_throttle, "LONGEST_PAUSE_SECONDS", SHORTEST_PAUSE_SECONDS)
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", TEST_NAMESPACE)
    monkeypatch.setenv("GRAPH_BASE_URL", graph.graph_base_url)
    monkeypatch.setenv("RecordStateStorage", azurite)
    monkeypatch.setenv("GRAPH_RETRY_BUDGET_SECONDS", "2")
    monkeypatch.setenv("BOOKINGS_MAX_DELIVERY_COUNT", str(MAX_DELIVERY_COUNT))
    monkeypatch.setenv("CALENDAR_EVENTS_ENABLED", "true")
    monkeypatch.setenv("ATTENDANCE_REPORTS_ENABLED", "true")


def test_a_lost_answer_for_a_meeting_that_may_already_exist_leaves_the_state_at_the_older_revision(
    managed_identity: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the long profile: the first booking's createOrGet was applied but its answer lost (the meeting's id
    unknown), the second's createOrGet was lost too. That one could only have returned the first booking's meeting
    unchanged, so the state must not claim the second revision, which Teams does not show."""
    _configure(managed_identity, azurite, monkeypatch)
    machine = BridgeMachine(managed_identity, azurite, monkeypatch)
    organizer = ORGANIZERS[1]
    machine.upsert_under_faults(
        [Fault(status=429, retry_after="1"), Fault(drop_after_processing=True), Fault(status=429, retry_after="86400000")],
        record="R2",
        organizer=organizer,
    )
    machine.upsert_under_faults(
        [Fault(status=503), Fault(drop_connection=True), Fault(status=429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT")],
        record="R2",
        organizer=organizer,
    )
    machine.teams_matches_the_record_state()
    machine.every_booking_has_one_answer_or_a_dead_letter()
    machine.teardown()


def test_a_follow_up_reports_once_and_nothing_once_its_record_is_cancelled(
    managed_identity: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The follow-up's rule by hand: a held meeting reported once (a re-send schedules no second follow-up), one never
    held reported as unavailable, and a record cancelled while its upsert ran (a lost lock) reports nothing."""
    _configure(managed_identity, azurite, monkeypatch)
    machine = BridgeMachine(managed_identity, azurite, monkeypatch)
    organizer = ORGANIZERS[0]
    machine.upsert("R1", organizer, 1)
    machine.upsert_asking_for_attendance("R1", organizer, held=True)
    machine._send("R1", machine.bookings[("R1", machine.revisions["R1"])])
    machine.upsert_asking_for_attendance("R2", organizer, held=False)
    machine.upsert_asking_for_attendance("C1", organizer, held=False)
    machine.attendance_is_reported_once_per_revision_and_never_for_a_cancelled_record()
    machine.two_deliveries_at_once("R1", organizer, cancel_second=True, attendance=True)
    lost_lock_revision = machine.revisions["R1"] - 1
    follow_ups = [message for message in machine.broker.requeued if b'"followUp"' in b"".join(message.body)]
    assert [json.loads(b"".join(message.body))["revision"] for message in follow_ups][-1] == lost_lock_revision

    attendance = [
        ResultMessage.model_validate_json(str(message))
        for message in machine.broker.results
        if ResultMessage.model_validate_json(str(message)).status is ResultStatus.ATTENDANCE
    ]
    assert [(r.record_id, r.error.code if r.error else None) for r in attendance] == [
        ("R1", None),
        ("R2", "attendance_unavailable"),
        ("C1", "attendance_unavailable"),
    ]
    machine.attendance_is_reported_once_per_revision_and_never_for_a_cancelled_record()
    machine.every_booking_has_one_answer_or_a_dead_letter()
    machine.teardown()


def test_a_move_that_fails_before_the_old_meeting_whose_id_was_never_learned_is_removed_keeps_it_listed(
    managed_identity: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the long profile: the first booking's createOrGet was applied but every answer lost (the meeting's id
    unknown, the booking `failed`); the move to the other organizer failed after it made the new meeting, before it
    looked up the old one. The state must keep the old meeting as left behind, not forget it under the new organizer."""
    _configure(managed_identity, azurite, monkeypatch)
    machine = BridgeMachine(managed_identity, azurite, monkeypatch)
    machine.upsert_under_faults(
        [Fault(drop_after_processing=True), Fault(status=429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT")],
        record="R2",
        organizer=ORGANIZERS[0],
    )
    machine.upsert_under_faults(
        [Fault(status=429, retry_after="1"), Fault(delay_seconds=0.3), Fault(status=429, retry_after="0")],
        record="R2",
        organizer=ORGANIZERS[1],
    )
    machine.teams_matches_the_record_state()
    machine.upsert(record="R2", organizer=ORGANIZERS[1], step=1)  # the record's next booking retires it
    assert [meeting["participants"]["organizer"]["identity"]["user"]["id"] for meeting in managed_identity.meetings()] == [
        ORGANIZERS[1]
    ]
    machine.teardown()
