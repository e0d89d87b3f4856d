"""What the instance's Graph throttle (shared.graph_throttle), the client and the failure policy promise together
whatever Graph answers: the instance's own pause never spends a booking's deliveries, a 503 holds only its own
request, a request let through late keeps to its invocation's deadline, and the mailboxes kept stay bounded.

Unit tests run on the test's clock (tests.throttle_calls.Clock); the end-to-end ones on the host fixture, whose
throttle clock moves only when the test says so.
"""

from __future__ import annotations

import gc
import tracemalloc
import uuid

import pytest

from shared.external_id import derive_external_id
from shared.graph_client import READ_TIMEOUT_SECONDS, GraphClient
from shared.graph_throttle import MAILBOX_SCOPES, GraphThrottle, Permit
from shared.http_transport import HttpEndpoint, HttpResponse
from shared.result import ResultStatus
from shared.retry_policy import RetryPolicy
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker
from tests.throttle_calls import EVENTS, MEETINGS, OTHER_EVENTS, Clock, held, room, sent, wait_for

MAX_DELIVERY_COUNT = 10  # the bookings queue's maxDeliveryCount (infra/main.bicepparam), as the host settings read it


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> GraphThrottle:
    return GraphThrottle(clock=clock, spread=lambda: 0.0)


def test_a_booking_without_revision_is_not_dead_lettered_by_the_instances_own_pause_without_graph_being_asked(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """One booking's 429 with a Retry-After longer than the invocation's budget closes the app for every call of the
    instance for up to 90 s. A booking without revision that arrives then cannot be re-enqueued (ordering), so it is
    abandoned; Service Bus redelivers an abandoned message of a held session at once, so its ten deliveries are
    spent back to back on the throttle's own ThrottledHere, and it is answered `failed` and dead-lettered, though
    Graph never saw it and would have created it (requeue.py: a throttle must not spend the booking's deliveries)."""
    graph.inject(Fault(status=429, retry_after="120"))
    throttled_session = derive_external_id("crm-eu", "BK-THROTTLED")
    host.deliver(booking(recordId="BK-THROTTLED"), session_id=throttled_session)  # re-enqueued: it has a revision
    assert len(host.sent.requeued()) == 1
    requests_before = len(graph.graph_requests())
    unrevisioned = booking(recordId="BK-UNREVISIONED")
    unrevisioned.pop("revision")
    session = derive_external_id("crm-eu", "BK-UNREVISIONED")

    for delivery_count in range(1, MAX_DELIVERY_COUNT + 1):  # redelivered at once, as Service Bus does after abandon
        try:
            host.deliver(unrevisioned, message_id="m-unrevisioned", session_id=session, delivery_count=delivery_count)
        except Exception:
            continue
        break

    answered = [result for result in host.sent.results() if result.record_id == "BK-UNREVISIONED"]
    assert len(graph.graph_requests()) > requests_before, "the booking never reached Graph"
    assert [result.status for result in answered] == [ResultStatus.CREATED], (
        f"answered {[result.status.value for result in answered]} without Graph being asked"
    )


def test_a_503_with_retry_after_holds_only_the_request_it_answered(throttle: GraphThrottle) -> None:
    """A 503 says a Graph service is overloaded, not that the app sends past its share: its Retry-After is the retry's
    of the request it answered (shared.retry_policy), and the instance's other calls, an undo of what a losing
    delivery made among them, are not held back by it."""
    sent(throttle, MEETINGS, 503, "5")

    assert wait_for(throttle, MEETINGS) is None, "the instance was closed by a 503"
    assert wait_for(throttle, OTHER_EVENTS) is None


def test_a_mailbox_scope_weighs_a_few_hundred_bytes_as_the_docs_say() -> None:
    """docs/performance.md, failure modes: "A scope per mailbox is kept for the life of the process (a few hundred
    bytes each)". Measured with tracemalloc, the throttle keeps about a kilobyte per mailbox it has seen, and keeps
    it for ever: the organizer ids are any GUID a booking names (ALLOWED_ORGANIZERS is empty by default)."""
    throttle = GraphThrottle(clock=Clock(), spread=lambda: 0.0)
    paths = [f"/users/{uuid.uuid4()}/events" for _ in range(2000)]

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for path in paths:
            sent(throttle, path, 201)
        gc.collect()
        per_mailbox = (tracemalloc.get_traced_memory()[0] - before) / len(paths)
    finally:
        tracemalloc.stop()

    assert per_mailbox < 500, f"{per_mailbox:.0f} bytes kept per mailbox"


class FakeTime:
    """shared.graph_client's clock and sleep, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_request_let_through_late_by_the_throttle_gets_no_read_timeout_past_the_invocations_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client computes the request's read timeout from what is left of the budget before it asks the throttle
    for a permit; a permit given after a long wait (a full mailbox window, a Retry-After within the budget) then
    sends the request with the timeout of before the wait, so the call runs up to READ_TIMEOUT_SECONDS past the
    invocation's deadline (shared.retry_policy: every wait is bounded by the invocation's budget)."""
    clock = FakeTime()
    monkeypatch.setattr("shared.graph_client.time", clock)
    timeouts: list[tuple[float, float]] = []

    def request(
        endpoint: HttpEndpoint,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: object = None,
        timeout: tuple[float, float],
    ) -> HttpResponse:
        timeouts.append(timeout)
        return HttpResponse(201, "Created", {"request-id": "r-1"}, b'{"id": "m-1"}')

    monkeypatch.setattr(HttpEndpoint, "request", request)

    class AdmittedLate(GraphThrottle):
        """A permit given 2 s before the deadline, as when a slot of the mailbox came free late."""

        def acquire(self, path: str, within: float) -> Permit | float:
            clock.now += within - 2.0
            return super().acquire(path, within=2.0)

    client = GraphClient(
        "https://graph.example/v1.0",
        lambda: "token",
        retry_policy=RetryPolicy(budget_seconds=45.0),
        throttle=AdmittedLate(clock=clock.monotonic, spread=lambda: 0.0),
    )
    deadline = client.deadline()
    client.create_or_get(ORGANIZER_ID, b"{}", deadline)
    client.close()

    [(_, read_timeout)] = timeouts
    assert clock.now + read_timeout <= deadline + 1.0, (
        f"sent {deadline - clock.now:.0f} s before the deadline with a read timeout of {read_timeout:.0f} s "
        f"(READ_TIMEOUT_SECONDS {READ_TIMEOUT_SECONDS:.0f})"
    )


def _mailbox(number: int) -> str:
    return f"/users/{uuid.UUID(int=number)}/events"


def test_the_mailbox_scopes_kept_stay_bounded_however_many_organizers_are_named() -> None:
    """Any GUID names an organizer: past MAILBOX_SCOPES mailboxes, the least recently used idle scope is forgotten,
    so the throttle's memory stops growing."""
    clock = Clock()
    throttle = GraphThrottle(clock=clock, spread=lambda: 0.0)

    def send_to(numbers: range) -> None:
        for number in numbers:
            clock.now += 0.01  # a hundred requests a second: the app counts those of the last second
            sent(throttle, _mailbox(number), 201)

    send_to(range(MAILBOX_SCOPES))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        send_to(range(MAILBOX_SCOPES, 2 * MAILBOX_SCOPES))
        gc.collect()
        at_the_bound = tracemalloc.get_traced_memory()[0] - before
        send_to(range(2 * MAILBOX_SCOPES, 5 * MAILBOX_SCOPES))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert after <= at_the_bound + 1024, f"{after - at_the_bound} bytes more after three times as many mailboxes"


def test_a_mailbox_with_a_request_in_progress_or_a_hold_is_not_forgotten_past_the_bound(
    throttle: GraphThrottle,
) -> None:
    [in_progress] = held(throttle, _mailbox(0), 1)
    sent(throttle, _mailbox(1), 429, "30")  # its only request: the instance holds the mailbox for 30 s

    for number in range(2, MAILBOX_SCOPES + 10):
        sent(throttle, _mailbox(number), 201)

    assert wait_for(throttle, _mailbox(0)) is not None, "a second request was let into a window of one"
    assert wait_for(throttle, _mailbox(1)) == 30.0, "the mailbox's hold was forgotten"
    with in_progress:
        pass


def test_the_least_recently_used_idle_mailbox_is_the_one_forgotten(throttle: GraphThrottle) -> None:
    sent(throttle, _mailbox(0), 201)  # a window of two now (slow start)
    for number in range(1, MAILBOX_SCOPES):
        sent(throttle, _mailbox(number), 201)
    sent(throttle, _mailbox(0), 201)  # used again: the most recently used

    sent(throttle, _mailbox(MAILBOX_SCOPES), 201)  # one past the bound: mailbox 1 is forgotten, not mailbox 0

    assert room(throttle, _mailbox(0)) == 3, "the recently used mailbox's window was forgotten"
    assert room(throttle, _mailbox(1)) == 1


def test_a_503_with_retry_after_neither_slows_the_pace_nor_narrows_a_mailbox(throttle: GraphThrottle, clock: Clock) -> None:
    """A 503 says Graph is overloaded, not that the app sends past its share."""
    sent(throttle, EVENTS, 201)
    sent(throttle, EVENTS, 503, "5")

    assert [wait_for(throttle, MEETINGS) for _ in range(5)] == [None] * 5, "the app was paced after a 503"
    assert room(throttle, EVENTS) == 2, "the mailbox's window was narrowed by a 503"


def test_a_503_without_retry_after_closes_nothing(throttle: GraphThrottle) -> None:
    sent(throttle, MEETINGS, 503)

    assert wait_for(throttle, OTHER_EVENTS) is None


def test_waiting_out_a_pause_waits_on_the_throttles_clock(clock: Clock) -> None:
    def wait(condition: object, seconds: float) -> bool:
        clock.now += seconds
        return False

    throttle = GraphThrottle(clock=clock, spread=lambda: 0.0, wait=wait)
    sent(throttle, MEETINGS, 429, "50")

    throttle.wait_out(45.0)

    assert clock.now == 1045.0
    assert wait_for(throttle, MEETINGS) == 5.0
