"""The fault-injection run: hundreds of bookings through the function while everything around it fails.

About 550 booking messages (new records, reschedules, cancels and re-creations, exact repeats, stale
re-sends, invalid ones) go through create_meeting as the host calls it, from a Service Bus-like broker
(tests.service_bus_harness: sessions, redelivery until maxDeliveryCount, dead-lettering, scheduled
copies), while the Graph simulator throttles, fails, answers late and drops connections, its token
endpoint fails now and then, and one results-queue send in ten fails. At the end, Teams holds exactly
the meetings the newest revisions ask for, every booking has one answer or a dead letter, only
retryable errors left the function, and the log holds no attendee, subject or token.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest

from shared import graph_throttle
from shared.errors import RetryableError
from shared.external_id import derive_external_id
from shared.inbound import InboundMessage
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY
from shared.result import ResultMessage, ResultStatus, result_message_id
from shared.runtime import reset_pipeline
from shared.wire_format import graph_instant
from simulator import Fault, GraphSimulator
from tests.conftest import SHORTEST_PAUSE_SECONDS, TEST_NAMESPACE, indexed_functions
from tests.service_bus_harness import DEAD_LETTER_REASON, ServiceBusBroker, escaped_counts

SEED = 20261201
KNOWN_ORGANIZERS = (
    "0b6f3c1a-2d4e-4f60-8a1b-3c5d7e9f1a2b",
    "1c7a4d2b-3e5f-4a71-9b2c-4d6e8f0a2b3c",
    "2d8b5e3c-4f6a-4b82-8c3d-5e7f9a1b3c4d",
)
# Known to the tenant, but no Teams application access policy covers them: Graph answers 403 every time.
DENIED_ORGANIZER = "3e9c6f4d-5a7b-4c93-9d4e-6f8a0b2c4d5e"
# Not a user of the tenant: Graph answers 404, a permanent failure.
UNKNOWN_ORGANIZER = "4fad7a5e-6b8c-4da4-8e5f-7a9b1c3d5e6f"

# Short enough that Graph's slow answers and long Retry-Afters exceed it within seconds.
RETRY_BUDGET_SECONDS = 2
# The default. Lower would shorten the run only by a few denied bookings' deliveries, and would let
# ordinary bookings be dead-lettered by a run of bad luck: with about one delivery in five failing
# here, ten in a row is a one-in-ten-million event per message, five in a row one in three thousand.
MAX_DELIVERY_COUNT = 10
# A token lasts this long, and the app renews it at half-life, so the token endpoint is asked every few
# seconds. (Under 5 minutes, MSAL's own cache never answers for the identity, so each renewal is a request.)
TOKEN_LIFETIME_SECONDS = 8
CHAOS_PROBABILITY = 0.2
SLOW_ANSWER_SECONDS = 3.0
CHAOS = (
    Fault(status=429, retry_after="1"),  # within the budget: waited for and retried
    Fault(status=429, retry_after="4"),  # beyond it: the app re-enqueues a scheduled copy
    Fault(status=503),
    Fault(status=500),
    Fault(status=504),
    # Slow answers past the read timeout that Graph then does not apply. One it applies after the client
    # gave up (a delay alone) can land after a newer revision's write and undo it, which nothing on the
    # client side can order; that case is left out here.
    Fault(delay_seconds=SLOW_ANSWER_SECONDS, status=504),  # past the read timeout, then the gateway gives up
    Fault(delay_seconds=SLOW_ANSWER_SECONDS, drop_connection=True),  # past the read timeout, then nothing
    Fault(drop_connection=True),
    Fault(drop_after_processing=True),
    Fault(target="token", status=500),
    Fault(target="token", drop_connection=True),
)
RESULTS_SEND_FAILURE_RATE = 0.1
WORKERS = 6
RUN_TIMEOUT_SECONDS = 150

SUBJECT_MARKER = "Confidential consult"
ATTENDEE_DOMAIN = "patients.example"
PEOPLE = 60
FIRST_DAY = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
OFFSETS = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)))
OPTIONS = (
    {"allowMeetingChat": "limited"},
    {"lobbyBypassSettings": {"scope": "invited"}, "recordAutomatically": True},
    {"allowedPresenters": "organizer", "isEntryExitAnnounced": False},
)
INVALID_KINDS = (
    "naive_time",
    "end_before_start",
    "unknown_field",
    "revision_as_string",
    "schema_version_true",
    "duplicate_attendee",
    "blank_subject",
    "truncated_json",
    "not_an_object",
    "not_utf8",
)

Answer = Literal["applied", "rejected", "failed_404", "dead_lettered"]
RecordKey = tuple[str, str]


@dataclass(frozen=True)
class ProducerMessage:
    """One message a source system sends, and the answer the bridge owes it."""

    message_id: str
    body: bytes
    session_id: str
    answer: Answer
    record: RecordKey | None = None
    document: dict[str, Any] | None = None  # the booking, when it is valid


@dataclass
class Workload:
    messages: list[ProducerMessage] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def newest(self) -> dict[RecordKey, dict[str, Any]]:
        """Each record's newest valid booking, the one Teams must end up matching."""
        newest: dict[RecordKey, dict[str, Any]] = {}
        for message in self.messages:
            if message.record is None or message.document is None:
                continue
            current = newest.get(message.record)
            if current is None or message.document["revision"] > current["revision"]:
                newest[message.record] = message.document
        return newest


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """A tenant of four organizers, one of them outside the Teams access policy; tokens that expire quickly."""
    with GraphSimulator(
        known_organizers=[*KNOWN_ORGANIZERS, DENIED_ORGANIZER], token_lifetime_seconds=TOKEN_LIFETIME_SECONDS
    ) as simulator:
        simulator.deny_organizer(DENIED_ORGANIZER)
        yield simulator


@pytest.fixture
def broker(managed_identity: GraphSimulator, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceBusBroker]:
    """The app's settings as infra sets them (Graph and the state table on loopback), fed by the broker."""
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", TEST_NAMESPACE)
    monkeypatch.setenv("GRAPH_BASE_URL", managed_identity.graph_base_url)
    monkeypatch.setenv("RecordStateStorage", azurite)
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")
    monkeypatch.setenv("GRAPH_RETRY_BUDGET_SECONDS", str(RETRY_BUDGET_SECONDS))
    monkeypatch.setenv("BOOKINGS_MAX_DELIVERY_COUNT", str(MAX_DELIVERY_COUNT))
    monkeypatch.delenv("MAX_THROTTLE_REQUEUES", raising=False)
    # Graph's Retry-After closes the instance for a moment only: the run is about answers, in real time.
    monkeypatch.setattr(graph_throttle, "LONGEST_PAUSE_SECONDS", SHORTEST_PAUSE_SECONDS)
    reset_pipeline()
    broker = ServiceBusBroker(
        indexed_functions()["create_meeting"].get_user_function(),
        max_delivery_count=MAX_DELIVERY_COUNT,
        workers=WORKERS,
        results_send_failure_rate=RESULTS_SEND_FAILURE_RATE,
        seed=SEED,
    )
    broker.install(monkeypatch)
    yield broker
    reset_pipeline()


def test_under_faults_every_booking_gets_one_answer_and_teams_matches_the_newest_revisions(
    broker: ServiceBusBroker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    workload = build_workload(random.Random(SEED))
    assert len(workload.messages) >= 500
    caplog.set_level(logging.DEBUG)
    graph.inject(Fault(target="token", status=500))  # the first token request fails for certain; chaos adds more
    graph.chaos(CHAOS, CHAOS_PROBABILITY, seed=SEED)
    for message in workload.messages:
        broker.send(message.body, message_id=message.message_id, session_id=message.session_id)

    started = time.monotonic()
    broker.run_until_idle(RUN_TIMEOUT_SECONDS)
    duration = time.monotonic() - started
    graph.stop_chaos()

    counts = fault_counts(broker, graph)
    print(
        f"\nfault run: {len(workload.messages)} messages {dict(workload.kinds)} in {duration:.1f} s; "
        + ", ".join(f"{name} {value}" for name, value in counts.items())
        + f"; escaped {dict(escaped_counts(broker.escaped))}"
    )

    assert_meetings_match_the_newest_revisions(workload, graph)
    assert_one_answer_per_booking(workload, broker)
    assert_only_retryable_errors_escaped(broker)
    assert_the_faults_happened(counts)
    assert_the_log_holds_no_personal_data_or_secret(caplog, graph)


# The invariants


def assert_meetings_match_the_newest_revisions(workload: Workload, graph: GraphSimulator) -> None:
    expected: dict[RecordKey, dict[str, Any]] = {}
    for record, booking in workload.newest().items():
        organizer = booking["organizerId"]
        if booking["action"] == "upsert" and organizer in KNOWN_ORGANIZERS:
            expected[(organizer, derive_external_id(*record))] = booking

    live = Counter(
        (meeting["participants"]["organizer"]["identity"]["user"]["id"], meeting["externalId"]) for meeting in graph.meetings()
    )
    assert [key for key, count in live.items() if count > 1] == []
    assert sorted(set(live) - set(expected)) == [], "live meetings that no newest revision asks for"
    assert sorted(set(expected) - set(live)) == [], "newest revisions without their meeting"
    for (organizer, external_id), booking in expected.items():
        meeting = graph.meeting_for(organizer, external_id)
        assert meeting is not None
        assert meeting["subject"] == booking["subject"], external_id
        assert graph_instant(meeting["startDateTime"]) == datetime.fromisoformat(booking["start"]), external_id
        assert graph_instant(meeting["endDateTime"]) == datetime.fromisoformat(booking["end"]), external_id
        attendees = [attendee["upn"] for attendee in meeting["participants"]["attendees"]]
        assert attendees == [attendee["upn"] for attendee in booking.get("attendees", [])], external_id
        for name, value in (booking.get("options") or {}).items():
            current = meeting[name]
            assert (current | value if isinstance(value, dict) else value) == current, (external_id, name)


def assert_one_answer_per_booking(workload: Workload, broker: ServiceBusBroker) -> None:
    """One result per booking (sent once or more under one id: duplicate detection keeps the first), or a dead letter.

    A dead-lettered booking may have a result too: the `failed` one its last delivery publishes before it
    raises. When that send failed, the harness recorded the attempt, which stands in for the result."""
    messages = {message.message_id: message for message in workload.messages}
    result_ids: defaultdict[str, set[str]] = defaultdict(set)
    for sent in broker.result_sends:
        result = ResultMessage.model_validate_json(str(sent))
        assert result.booking_message_id in messages, "a result for a booking nobody sent"
        result_ids[result.booking_message_id].add(str(sent.message_id))
    accepted = {
        result.booking_message_id: result for result in (ResultMessage.model_validate_json(str(sent)) for sent in broker.results)
    }
    dead_letters = {
        _original_id(letter.message.message_id, letter.message.application_properties): letter for letter in broker.dead_letters
    }
    failed_sends = {failed.message_id for failed in broker.failed_result_sends}

    accepted_per_booking = Counter(ResultMessage.model_validate_json(str(sent)).booking_message_id for sent in broker.results)
    for message_id, message in messages.items():
        key = InboundMessage(message.body, message_id).booking_key
        assert accepted_per_booking[message_id] <= 1, f"{message_id}: more than one result reached the consumer"
        result = accepted.get(message_id)
        answer_id = result_message_id(key, result.status if result else ResultStatus.FAILED)
        assert result_ids[message_id] <= {answer_id}, message_id
        letter = dead_letters.get(message_id)
        if message.answer == "dead_lettered":
            assert letter is not None, f"{message_id} was not dead-lettered"
            assert letter.reason == DEAD_LETTER_REASON and letter.description, message_id
            if result is None:
                assert answer_id in failed_sends, f"{message_id}: no last-attempt result, and none was attempted"
                continue
            assert result.status is ResultStatus.FAILED and result.error is not None, message_id
            assert f"gave up after {MAX_DELIVERY_COUNT} deliveries" in result.error.message
            continue
        assert letter is None, f"{message_id} ({message.answer}) was dead-lettered: {letter.description if letter else ''}"
        assert result is not None, f"{message_id} ({message.answer}) has no result"
        if message.answer == "rejected":
            assert result.status is ResultStatus.REJECTED, message_id
        elif message.answer == "failed_404" and result.status is not ResultStatus.SUPERSEDED:
            # Superseded is as truthful: a copy re-enqueued while the instance waited out a Retry-After can arrive
            # after its record's newer revision was applied.
            assert result.status is ResultStatus.FAILED and result.error is not None, message_id
            assert result.error.http_status == 404, message_id
        else:
            assert result.status in APPLIED_STATUSES, (message_id, result.status, result.error)

    for copy in broker.requeued:
        assert copy.application_properties[ORIGINAL_MESSAGE_ID_PROPERTY] in messages
        assert copy.message_id not in accepted, "a result must carry the producer's message id, not the copy's"


APPLIED_STATUSES = frozenset(
    {ResultStatus.CREATED, ResultStatus.EXISTING, ResultStatus.UPDATED, ResultStatus.CANCELLED, ResultStatus.SUPERSEDED}
)


def assert_only_retryable_errors_escaped(broker: ServiceBusBroker) -> None:
    unexpected = {error.error_type.__name__ for error in broker.escaped if not issubclass(error.error_type, RetryableError)}
    assert unexpected == set()


def assert_the_faults_happened(counts: dict[str, int]) -> None:
    for name in ("429", "5xx", "dropped", "token faults", "re-enqueued", "publish failures", "redeliveries", "dead letters"):
        assert counts[name] > 0, name
    assert counts["token requests"] > 1, "the token was never renewed"


def assert_the_log_holds_no_personal_data_or_secret(caplog: pytest.LogCaptureFixture, graph: GraphSimulator) -> None:
    text = caplog.text
    # One "booking processed" line per answered delivery: the workload has at least 500 bookings.
    assert text.count("booking processed") >= 500, "the run's log was not captured"
    tokens = {request.headers["authorization"].partition(" ")[2] for request in graph.graph_requests()}
    assert tokens, "no bearer token was ever sent"
    assert SUBJECT_MARKER not in text
    assert ATTENDEE_DOMAIN not in text
    assert graph.identity_header not in text
    assert [token for token in tokens if token in text] == []


def fault_counts(broker: ServiceBusBroker, graph: GraphSimulator) -> dict[str, int]:
    """What the run went through. Graph and token answers share the simulator's status counters."""
    stats = graph.stats
    statuses = stats.responses_by_status
    # The app asks for a token only when it is about to call Graph, and uses it at once: every token the
    # endpoint issued and the app received shows up on a Graph request, so token requests beyond those failed.
    bearers = {request.headers["authorization"] for request in graph.graph_requests()}
    results = [ResultMessage.model_validate_json(str(sent)) for sent in broker.results]
    return {
        "graph requests": stats.graph_requests,
        "429": statuses.get(429, 0),
        "5xx": sum(count for status, count in statuses.items() if status >= 500),
        "dropped": stats.graph_requests + stats.token_requests - sum(statuses.values()),
        "token requests": stats.token_requests,
        "token faults": stats.token_requests - len(bearers),
        "deliveries": broker.deliveries,
        "redeliveries": broker.redeliveries,
        "re-enqueued": len(broker.requeued),
        "publish failures": len(broker.failed_result_sends),
        "duplicate results dropped": len(broker.result_sends) - len(broker.results),
        "superseded": sum(result.status is ResultStatus.SUPERSEDED for result in results),
        "dead letters": len(broker.dead_letters),
    }


def _original_id(message_id: str, properties: dict[str, Any]) -> str:
    return str(properties.get(ORIGINAL_MESSAGE_ID_PROPERTY) or message_id)


# The workload


def build_workload(rng: random.Random) -> Workload:
    """Records over three sources, each record's messages in order, the records interleaved at random."""
    workload = Workload()
    subjects = itertools.count(1)
    sequences: list[list[ProducerMessage]] = []
    for number in range(110):
        source = ("crm-eu", "clinic.north")[number % 2]
        sequences.append(_record_messages(rng, workload, subjects, source, f"BK-{number:04d}", organizer=None))
    for number in range(6):
        sequences.append(_record_messages(rng, workload, subjects, "clinic.north", f"DN-{number:04d}", DENIED_ORGANIZER))
    for number in range(14):
        sequences.append(_record_messages(rng, workload, subjects, "lms", f"Kurs {number}", UNKNOWN_ORGANIZER))

    while any(sequences):
        sequence = rng.choice([sequence for sequence in sequences if sequence])
        workload.messages.append(sequence.pop(0))
    return workload


def _record_messages(
    rng: random.Random,
    workload: Workload,
    subjects: Iterator[int],
    source: str,
    record_id: str,
    organizer: str | None,
) -> list[ProducerMessage]:
    """One record's life: revisions that reschedule and edit it, perhaps a cancel and a re-creation, with
    exact repeats, stale re-sends and invalid messages mixed in."""
    record = (source, record_id)
    session_id = derive_external_id(source, record_id)
    answer: Answer = "applied" if organizer is None else ("dead_lettered" if organizer == DENIED_ORGANIZER else "failed_404")
    # One organizer per record. A move whose first attempt creates the meeting under the new organizer and
    # is then re-enqueued can be overtaken by a newer revision, which orphans that meeting: not handled yet.
    owner = organizer or rng.choice(KNOWN_ORGANIZERS)
    revision = rng.randint(0, 3)
    documents: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    upserts = 1 if answer == "dead_lettered" else rng.randint(1, 5 if answer == "applied" else 2)
    for _ in range(upserts):
        revision += rng.randint(1, 2)
        previous = _upsert(rng, subjects, source, record_id, revision, owner, previous)
        documents.append(previous)
    if answer != "dead_lettered" and rng.random() < 0.3:
        revision += 1
        documents.append(_cancel(source, record_id, revision, owner))
        if rng.random() < 0.35:
            revision += 1
            documents.append(_upsert(rng, subjects, source, record_id, revision, owner, None))

    messages = [_message(document, session_id, answer, record) for document in documents]
    workload.kinds["original"] += len(messages)
    for original in list(messages):
        if rng.random() < 0.12:
            _insert_after(rng, messages, original, original)  # the same message id: a producer's retry
            workload.kinds["repeat"] += 1
    if answer == "applied" and len(documents) > 1 and rng.random() < 0.4:
        stale = rng.choice(documents[:-1])
        newer = next(message for message in messages if message.document and message.document["revision"] > stale["revision"])
        _insert_after(rng, messages, newer, _message(stale, session_id, answer, record))
        workload.kinds["stale"] += 1
    if answer == "applied" and rng.random() < 0.25:
        kind = rng.choice(INVALID_KINDS)
        body = _invalid_body(kind, _upsert(rng, subjects, source, record_id, revision + 1, owner, None))
        invalid = ProducerMessage(str(uuid.uuid4()), body, session_id, "rejected", record)
        messages.insert(rng.randint(0, len(messages)), invalid)
        workload.kinds["invalid"] += 1
    return messages


def _upsert(
    rng: random.Random,
    subjects: Iterator[int],
    source: str,
    record_id: str,
    revision: int,
    organizer: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """A new booking, or the next revision of `previous` with some of subject, time and attendees changed."""
    document = dict(previous) if previous is not None else {}
    document.update(schemaVersion=1, source=source, recordId=record_id, revision=revision, action="upsert", organizerId=organizer)
    document.pop("options", None)
    if previous is None or rng.random() < 0.5:
        document["subject"] = f"{SUBJECT_MARKER} {next(subjects)}"
    if previous is None or rng.random() < 0.5:
        start = FIRST_DAY + timedelta(days=rng.randrange(60), minutes=15 * rng.randrange(40))
        offset = rng.choice(OFFSETS)
        document["start"] = start.astimezone(offset).isoformat()
        document["end"] = (start + timedelta(minutes=15 * rng.randint(1, 8))).astimezone(offset).isoformat()
    if previous is None or rng.random() < 0.4:
        document["attendees"] = [_attendee(rng, person) for person in rng.sample(range(PEOPLE), rng.randint(0, 3))]
    if rng.random() < 0.08:
        document["options"] = rng.choice(OPTIONS)
    return document


def _attendee(rng: random.Random, person: int) -> dict[str, Any]:
    attendee: dict[str, Any] = {"upn": f"person{person}@{ATTENDEE_DOMAIN}"}
    if rng.random() < 0.2:
        attendee.update(userId=str(uuid.UUID(int=rng.getrandbits(128), version=4)), role="presenter")
    return attendee


def _cancel(source: str, record_id: str, revision: int, organizer: str) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "source": source,
        "recordId": record_id,
        "revision": revision,
        "action": "cancel",
        "organizerId": organizer,
    }


def _message(document: dict[str, Any], session_id: str, answer: Answer, record: RecordKey) -> ProducerMessage:
    return ProducerMessage(str(uuid.uuid4()), json.dumps(document).encode("utf-8"), session_id, answer, record, document)


def _insert_after(rng: random.Random, messages: list[ProducerMessage], after: ProducerMessage, message: ProducerMessage) -> None:
    position = messages.index(after) + 1
    messages.insert(rng.randint(position, len(messages)), message)


def _invalid_body(kind: str, document: dict[str, Any]) -> bytes:
    """A booking of the record that breaks the contract in one way."""
    if kind == "naive_time":
        document["start"] = document["start"][:19]
    elif kind == "end_before_start":
        document["start"], document["end"] = document["end"], document["start"]
    elif kind == "unknown_field":
        document["colour"] = "teal"
    elif kind == "revision_as_string":
        document["revision"] = str(document["revision"])
    elif kind == "schema_version_true":
        document["schemaVersion"] = True
    elif kind == "duplicate_attendee":
        document["attendees"] = [{"upn": f"person0@{ATTENDEE_DOMAIN}"}, {"upn": f"PERSON0@{ATTENDEE_DOMAIN}"}]
    elif kind == "blank_subject":
        document["subject"] = "   "
    elif kind == "truncated_json":
        return json.dumps(document).encode("utf-8")[:-7]
    elif kind == "not_an_object":
        return json.dumps([document]).encode("utf-8")
    elif kind == "not_utf8":
        return json.dumps(document).encode("utf-16")
    return json.dumps(document).encode("utf-8")
