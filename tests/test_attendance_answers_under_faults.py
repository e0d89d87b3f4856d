"""An attendance follow-up gives one answer per revision whatever a producer, Graph or Service Bus does meanwhile, as
docs/contract.md ("After the meeting: attendance") promises:

- an answer Graph refuses at once, or attendance reports turned off, after a publish that stopped mid-parts or after
  an answer whose settlement was lost, takes an id of its own and is the answer the redelivery gives again;
- a follow-up of a cancelled revision reports nothing, even when the record is booked again without a revision;
- records that cannot be read within the invocation's Graph budget fail the follow-up as a slow Graph does;
- a look whose settlement was lost leaves no second look to answer again;
- a meeting late in year 9999 is never answered before it takes place;
- a report list whose next link leads back to a page already read is a bad answer, not attendance_too_large."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from azure.servicebus import ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import ServiceBusConnectionError

from shared.attendance import ATTENDANCE_TOO_LARGE, ATTENDANCE_UNAVAILABLE
from shared.errors import GraphUnavailable, PublishError
from shared.result import ResultMessage, ResultStatus
from shared.runtime import reset_pipeline
from shared.settings import ATTENDANCE_REPORTS_ENABLED, DEFAULT_RESULTS_QUEUE, GRAPH_RETRY_BUDGET_SECONDS
from simulator import Fault, GraphSimulator
from simulator.attendance_api import AttendanceApi
from simulator.server import HttpRequest, HttpResponse, json_response
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker
from tests.follow_ups import CLOCK, attendance_booking, body, deliver, on_the_bridge_clock, record, scheduled, times
from tests.simulator_client import fetch_token

# infra/modules/servicebus.bicep: the results queue's duplicateDetectionHistoryTimeWindow.
RESULTS_DUPLICATE_DETECTION_WINDOW = timedelta(hours=1)


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")
    on_the_bridge_clock(monkeypatch)


def attendance_results(host: HostInvoker) -> list[tuple[str, ResultMessage]]:
    """(message id, result) of every attendance result the bridge sent, in order."""
    return [
        (str(message.message_id), result)
        for message, result in zip(host.sent.to(DEFAULT_RESULTS_QUEUE), host.sent.results(), strict=True)
        if result.status is ResultStatus.ATTENDANCE
    ]


def heard(host: HostInvoker) -> list[ResultMessage]:
    """What the source receives: the results queue's duplicate detection drops a message whose id it accepted less
    than its window before (the bridge's clock, processedAt, stands for the time of sending)."""
    accepted: dict[str, datetime] = {}
    received: list[ResultMessage] = []
    for message_id, result in attendance_results(host):
        first = accepted.get(message_id)
        if first is not None and result.processed_at - first < RESULTS_DUPLICATE_DETECTION_WINDOW:
            continue
        accepted[message_id] = result.processed_at
        received.append(result)
    return received


def large_report(graph: GraphSimulator, meeting_id: str) -> None:
    """A report of several parts (each part a Service Bus message of its own), paged as Graph pages it."""
    people = [record(f"attendee-{n:04d}-with-a-long-mailbox-name@lecture-hall.contoso.com", intervals=3) for n in range(1500)]
    graph.add_attendance_report(
        ORGANIZER_ID, meeting_id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=people
    )
    graph.page_attendance(500)


def one_answer(received: list[ResultMessage]) -> bool:
    """Whether the source holds one answer: a single result without parts, or parts 1 to N of one cut, each once."""
    if len(received) == 1:
        return True
    parts = [result.attendance for result in received]
    if any(part is None for part in parts) or any(result.error is not None for result in received):
        return False
    return sorted(part.part for part in parts if part) == list(range(1, len(received) + 1)) and {
        part.parts for part in parts if part
    } == {len(received)}


class ResultsOutage:
    """The results queue stops taking messages after `taken` more of them, until it is restored."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, host: HostInvoker, taken: int) -> None:
        self.left: int | None = taken
        keep = host.sent.record

        def record(sender: ServiceBusSender, message: ServiceBusMessage) -> None:
            if sender.entity_name == DEFAULT_RESULTS_QUEUE and self.left is not None:
                if self.left == 0:
                    raise ServiceBusConnectionError(message="injected: the results queue is unreachable")
                self.left -= 1
            keep(sender, message)

        monkeypatch.setattr(host.sent, "record", record)

    def restore(self) -> None:
        self.left = None


def delete_meeting(graph: GraphSimulator, meeting_id: str) -> None:
    """The organizer deletes the meeting in Teams: Graph answers 404 for it from then on."""
    token = fetch_token(graph).json()["access_token"]
    url = f"{graph.graph_base_url}/users/{ORGANIZER_ID}/onlineMeetings/{requests.utils.quote(meeting_id, safe='')}"
    assert requests.delete(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 204


@pytest.mark.parametrize("then", ["the meeting is deleted in Teams (404)", "attendance reports are turned off"])
def test_a_follow_up_that_stopped_mid_parts_tells_the_source_the_rest_or_why_not(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    """Contract: "a source that holds fewer [parts] and then the 'gave up' answer knows the rest could not be read
    again"; "never drop records silently". The follow-up publishes part 1 of a report of several parts, and the
    results queue refuses part 2 (redelivered). Before the redelivery the meeting is deleted in Teams, or the operator
    turns attendance reports off: the redelivery's answer (Graph's NotFound, attendance_not_enabled) is an answer
    without parts, and such an answer takes part 1's message id, which the results queue's duplicate detection drops.
    The follow-up completes; the source holds part 1 of N for good, and is never told the rest will not come."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    large_report(graph, booked.id)
    outage = ResultsOutage(monkeypatch, host, taken=1)
    with pytest.raises(PublishError):
        deliver(host, follow_up)
    outage.restore()
    if then.startswith("the meeting"):
        delete_meeting(graph, booked.id)
    else:
        monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "false")
        reset_pipeline()

    deliver(host, follow_up, delivery_count=2)

    received = heard(host)
    [first] = received[:1]
    assert first.attendance is not None and first.attendance.parts > 1
    told_why = any(result.error is not None for result in received)
    assert told_why or len(received) == first.attendance.parts, (
        f"the source holds {len(received)} of {first.attendance.parts} parts and no answer saying the rest will not come"
    )


@pytest.mark.parametrize("refusal", ["a 404", "a 429 with a Retry-After over 15 minutes"])
def test_an_answer_whose_settlement_was_lost_is_not_followed_by_parts_of_a_report(
    host: HostInvoker, graph: GraphSimulator, refusal: str
) -> None:
    """Contract: "at most one attendance answer per revision reaches the source"; "a redelivered follow-up publishes
    nothing new". A look meets a refusal the failure policy answers at once (a 404 Graph sends once; a Retry-After over
    15 minutes): an `attendance` result with the error, under part 1's id, and nothing is remembered in the record
    state. Its settlement is lost; the redelivery reads the report (several parts) and publishes parts 1 to N: part 1
    is dropped as a duplicate of the error, parts 2..N reach the source, after an answer that said there is none, and
    part 1's records are lost without a word."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    large_report(graph, booked.id)
    if refusal == "a 404":
        graph.inject(Fault(status=404))
    else:
        graph.inject(Fault(status=429, retry_after="3600"))
    deliver(host, follow_up)
    [answered] = heard(host)
    assert answered.error is not None
    host.wait_out_retry_after()

    deliver(host, follow_up, delivery_count=2)

    received = heard(host)
    assert one_answer(received), [
        (result.error.code if result.error else None, result.attendance.part if result.attendance else None)
        for result in received
    ]


def test_the_follow_up_of_a_cancelled_booking_reports_nothing_when_the_record_is_booked_again_without_revision(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Contract: "A cancel: its follow-up reports nothing and asks Graph for nothing"; the invariant "none for a
    cancelled record". Revision 3 asks for attendance; it is cancelled (a cancel needs only source, recordId and
    organizerId); the record is booked again with a booking without revision (the contract applies those in delivery
    order), which does not ask. The record state keeps revision 3 (a booking without one keeps the last) and the
    cancelled revision's AttendanceScheduled and AttendanceWindow: revision 3's follow-up, still looking, is backed
    again, and publishes an `attendance` result for revision 3 with the attendees of the meeting booked after the
    cancel."""
    host.deliver(attendance_booking())
    [follow_up] = scheduled(host.sent)
    cancel = {"schemaVersion": 1, "source": "crm-eu", "recordId": "BK-10023", "action": "cancel", "organizerId": ORGANIZER_ID}
    host.deliver(cancel)
    assert host.last_result().status is ResultStatus.CANCELLED
    again = booking(attendees=[{"upn": "walk-in@contoso.com", "role": "attendee"}])
    del again["revision"]
    host.deliver(again)
    rebooked = host.last_result().meeting
    assert rebooked is not None
    graph.hold_meeting(ORGANIZER_ID, rebooked.id)
    before = len(graph.graph_requests())

    deliver(host, follow_up)

    reported = [
        (result.revision, [r.email_address for report in result.attendance.reports for r in report.attendance_records])
        for _, result in attendance_results(host)
        if result.attendance is not None
    ]
    assert reported == []
    assert len(graph.graph_requests()) == before


def test_pages_that_cannot_be_read_within_the_graph_budget_fail_the_follow_up(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contract: a report whose records "cannot be read within the invocation's Graph budget
    (GRAPH_RETRY_BUDGET_SECONDS), fails the follow-up as a slow Graph does (redelivered, then answered with the
    error)". The budget bounds only retries: a success is never late, and every further page is sent whatever time is
    left (its read timeout floored at a second). Graph answers each page in a third of a second, twelve pages, with a
    budget of one second: the follow-up reads all of them and publishes. A Graph that lists 100 reports of 199 pages
    each, each page answered in just under a second, holds one invocation for more than five hours, far past the
    function's timeout and its message lock (redelivered meanwhile: two deliveries of the follow-up at once)."""
    monkeypatch.setenv(GRAPH_RETRY_BUDGET_SECONDS, "1")
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    graph.add_attendance_report(
        ORGANIZER_ID,
        booked.id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(f"person-{n}@contoso.com") for n in range(11)],
    )
    graph.page_attendance(1)
    graph.inject(Fault(delay_seconds=0.3, times=12))

    with pytest.raises(GraphUnavailable):
        deliver(host, follow_up)

    assert attendance_results(host) == []


def test_a_look_whose_settlement_was_lost_leaves_no_second_look_to_answer_again_after_the_duplicate_window(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Contract: "Its message id is stable, so a redelivered follow-up publishes nothing new"; "at most one attendance
    answer per revision reaches the source" (the results queue's duplicate detection drops a repeat within its
    window, an hour). The bookings queue has no duplicate detection (infra), so a look sent twice is two looks. A look
    90 minutes after the end finds no report and schedules the next (160 minutes after the end); its settlement is
    lost, and Service Bus redelivers it when the lock expires, a minute later; Teams has made the report by then, and
    the redelivery publishes the answer. The look it scheduled the first time still comes, 69 minutes later, reads the
    remembered answer and publishes it again: past the window, so the source receives the answer twice."""
    when = times(timedelta(minutes=-90))
    host.deliver(attendance_booking(**when))
    booked = host.last_result().meeting
    assert booked is not None
    [first] = scheduled(host.sent)
    deliver(host, first)
    [_, later] = scheduled(host.sent)
    assert attendance_results(host) == []
    graph.hold_meeting(ORGANIZER_ID, booked.id)
    assert first.scheduled_enqueue_time_utc is not None
    CLOCK.at = first.scheduled_enqueue_time_utc + timedelta(minutes=1)  # the lock expired: redelivered
    try:
        host.deliver(
            body(first),
            message_id=str(first.message_id),
            delivery_count=2,
            correlation_id=first.correlation_id,
            session_id=first.session_id,
            application_properties={str(name): value for name, value in (first.application_properties or {}).items()},
        )
    finally:
        CLOCK.at = None
    [answer] = heard(host)
    assert answer.error is None and answer.attendance is not None

    deliver(host, later)

    assert len(heard(host)) == 1, [result.processed_at.isoformat() for result in heard(host)]


def test_a_meeting_late_in_year_9999_is_not_answered_unavailable_before_it_takes_place(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Contract: a date-time is valid within years 1 to 9999, and a booking asking for attendance gets
    attendance_unavailable only when Teams made no report "within 24 hours of its end". For a meeting from
    9999-12-31T23:00Z to 23:55Z, every look is bounded to LATEST_LOOK (9999-12-30T00:00Z), a day before the meeting
    starts: the first look, at that time, finds no report (the meeting has not taken place), has no later look, and
    answers attendance_unavailable, for good (it is remembered)."""
    start, end = "9999-12-31T23:00:00+00:00", "9999-12-31T23:55:00+00:00"
    host.deliver(attendance_booking(start=start, end=end))
    assert host.last_result().status is ResultStatus.CREATED
    [follow_up] = scheduled(host.sent)

    deliver(host, follow_up)

    early = [
        (result.processed_at.isoformat(), result.error.code if result.error else None)
        for _, result in attendance_results(host)
        if result.error is not None
        and result.error.code == ATTENDANCE_UNAVAILABLE
        and result.processed_at < datetime.fromisoformat(end)
    ]
    assert early == []


def test_a_report_list_whose_next_link_leads_back_to_its_first_page_is_a_bad_answer_not_attendance_too_large(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contract: answers the bridge cannot read are redelivered, then answered with the error ("gave up"); and
    attendance_too_large is the answer for "more than 100 reports" (far beyond any meeting Teams holds), remembered and
    answered again on every redelivery. Graph lists the meeting's three reports and sends a `@odata.nextLink` that
    leads back to the first page (a paging loop, on Graph's own origin): the bridge takes the same three reports again
    and again, counts past 100, and answers attendance_too_large for good, with no record, for a meeting of three
    sessions; the same ids listed twice are never noticed."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    for minute in ("00", "10", "20"):
        graph.add_attendance_report(
            ORGANIZER_ID,
            booked.id,
            start=f"2026-12-01T09:{minute}:00Z",
            end=f"2026-12-01T09:{minute}:30Z",
            records=[record("ada@contoso.com")],
        )
    looped = AttendanceApi._page

    def page(api: AttendanceApi, request: HttpRequest, items: list[dict[str, Any]]) -> HttpResponse:
        if not request.path.endswith("/attendanceReports"):
            return looped(api, request, items)
        link = f"{graph.graph_base_url}{request.path.removeprefix('/v1.0')}?$skiptoken=c2tpcD0w"  # skip=0
        return json_response(200, {"value": items, "@odata.nextLink": link})

    monkeypatch.setattr(AttendanceApi, "_page", page)

    with contextlib.suppress(GraphUnavailable):
        deliver(host, follow_up)

    too_large = [result for _, result in attendance_results(host) if result.error and result.error.code == ATTENDANCE_TOO_LARGE]
    assert too_large == []
