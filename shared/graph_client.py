"""Microsoft Graph's onlineMeetings and events calls over one requests Session: tokens, timeouts, retries, errors.

One client per process, used by every invocation thread: the session's connection pool (shared.http_transport) is
thread-safe and keeps TLS connections to Graph alive between messages. Retrying a
createOrGet POST is safe because the externalId makes it idempotent; that is the point of it.
Each request is a span of the booking's trace and carries its traceparent (shared.telemetry).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from shared.errors import BridgeError, GraphAccessDenied, GraphErrorInfo, GraphRefused, GraphThrottled, GraphUnavailable
from shared.graph_responses import MAX_REQUEST_ID_LENGTH, ResponseKind, bounded, classify, error_info
from shared.graph_throttle import GraphThrottle, Permit
from shared.http_transport import HttpEndpoint, HttpResponse, NotSent, TransportError
from shared.log_text import escaped
from shared.retry_policy import RetryPolicy
from shared.telemetry import (
    ATTENDANCE_RECORDS,
    ATTENDANCE_REPORTS,
    CREATE_OR_GET,
    EVENT,
    EVENT_CANCEL,
    EVENTS,
    ONLINE_MEETING,
    ONLINE_MEETINGS,
    graph_request,
    record_retry_after_wait,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 20.0
# Responses after which the request may have been applied all the same: a gateway timed out or failed behind it.
_MAYBE_APPLIED_STATUSES = frozenset({408, 500, 502, 504})
# Successes without a body: DELETE (204) and an event's cancel action (202 Accepted).
_NO_CONTENT = (202, 204)
_JSON_BOTH_WAYS = {"Accept": "application/json", "Content-Type": "application/json"}
# The error of a call this instance's own throttle (shared.graph_throttle) did not send: no Graph status, its own code.
THROTTLED_HERE = "ThrottledHere"
NOT_SENT_WHILE_THROTTLED = "not sent: this instance is waiting out Graph's Retry-After"
# The error of a collection whose next page would be asked for after the caller's deadline: no Graph status.
OUT_OF_TIME = "OutOfTime"
NOT_READ_IN_TIME = "not read: the collection's pages take longer than the invocation's Graph budget"

# The most pages of one collection read in one call: Graph pages a collection with @odata.nextLink, and a Graph that
# kept sending one would otherwise be read for ever.
MAX_PAGES = 200
# Far longer than any nextLink Graph sends (a path of ids and a skip token): a longer one is not followed.
MAX_NEXT_LINK_LENGTH = 4096
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class GraphResponse:
    status: int
    payload: Any
    request_id: str | None
    # An earlier attempt of the same call may have been applied (its answer was lost): this answer may then show what
    # that attempt did (createOrGet's 200 for the meeting it created) rather than what was there before the call.
    repeated: bool = False


class GraphClient:
    """Calls Graph for one organizer at a time; raises the error kinds in shared.errors.

    Redirects are never followed: Graph does not send them for these calls, and following one would
    carry the subject and attendee addresses to another host."""

    def __init__(
        self,
        base_url: str,
        bearer_token: Callable[[], str],
        *,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 32,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
        throttle: GraphThrottle | None = None,
    ) -> None:
        self._bearer_token = bearer_token
        self._retry_policy = retry_policy or RetryPolicy()
        self._read_timeout = read_timeout_seconds
        self._endpoint = HttpEndpoint(base_url, max_connections, _JSON_BOTH_WAYS, service="Graph")
        self._throttle = throttle

    def create_or_get(
        self, organizer_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """POST /users/{organizerId}/onlineMeetings/createOrGet; 201 = created, 200 = existing."""
        return self._send("POST", CREATE_OR_GET, f"{self._meetings_path(organizer_id)}/createOrGet", body, deadline, language)

    def get_meeting(
        self, organizer_id: str, meeting_id: str, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse | None:
        """GET /users/{organizerId}/onlineMeetings/{id}; None if it is gone (404)."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}"
        try:
            return self._send("GET", ONLINE_MEETING, path, None, deadline, language)
        except GraphRefused as error:
            if error.info.http_status == 404:
                return None
            raise

    def update_meeting(
        self, organizer_id: str, meeting_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """PATCH /users/{organizerId}/onlineMeetings/{id}; Graph answers 200 with the updated meeting.

        A PATCH sets absolute values, so retrying one whose response was lost is harmless."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}"
        return self._send("PATCH", ONLINE_MEETING, path, body, deadline, language)

    def delete_meeting(
        self, organizer_id: str, meeting_id: str, deadline: float | None = None, *, language: str | None = None
    ) -> bool:
        """DELETE /users/{organizerId}/onlineMeetings/{id}: True if deleted now, False if it was already gone (404)."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}"
        return self._gone_if_404("DELETE", ONLINE_MEETING, path, None, deadline, language)

    # Calendar mode (shared.calendar_lifecycle): the organizer's Outlook events, and an event's online meeting.

    def create_event(
        self, organizer_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """POST /users/{organizerId}/events; 201 with the event. Its transactionId makes a retried POST harmless."""
        return self._send("POST", EVENTS, self._events_path(organizer_id), body, deadline, language)

    def find_events(
        self, organizer_id: str, odata_filter: str, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """GET /users/{organizerId}/events?$filter=...; 200 with {"value": [events]}."""
        path = f"{self._events_path(organizer_id)}?{_query(odata_filter)}"
        return self._send("GET", EVENTS, path, None, deadline, language)

    def get_event(
        self, organizer_id: str, event_id: str, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse | None:
        """GET /users/{organizerId}/events/{id}; None if it is gone (404)."""
        try:
            return self._send("GET", EVENT, self._event_path(organizer_id, event_id), None, deadline, language)
        except GraphRefused as error:
            if error.info.http_status == 404:
                return None
            raise

    def update_event(
        self, organizer_id: str, event_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """PATCH /users/{organizerId}/events/{id}: Exchange sends the attendees an update. Absolute values: safe to retry."""
        return self._send("PATCH", EVENT, self._event_path(organizer_id, event_id), body, deadline, language)

    def cancel_event(
        self, organizer_id: str, event_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> bool:
        """POST /users/{organizerId}/events/{id}/cancel (202): the attendees get a cancellation; False if gone (404)."""
        path = f"{self._event_path(organizer_id, event_id)}/cancel"
        return self._gone_if_404("POST", EVENT_CANCEL, path, body, deadline, language)

    def delete_event(
        self, organizer_id: str, event_id: str, deadline: float | None = None, *, language: str | None = None
    ) -> bool:
        """DELETE /users/{organizerId}/events/{id} (204); False if it was already gone (404)."""
        return self._gone_if_404("DELETE", EVENT, self._event_path(organizer_id, event_id), None, deadline, language)

    def find_online_meetings(
        self, organizer_id: str, odata_filter: str, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """GET /users/{organizerId}/onlineMeetings?$filter=...: how an event's Teams meeting is found (by JoinWebUrl).

        With the booking's language, as every call that answers with a meeting: its joinInformation is in it."""
        path = f"{self._meetings_path(organizer_id)}?{_query(odata_filter)}"
        return self._send("GET", ONLINE_MEETINGS, path, None, deadline, language)

    # Attendance (shared.attendance): Teams' reports of a meeting's sessions, read after the meeting.

    def attendance_reports(
        self, organizer_id: str, meeting_id: str, limit: int, deadline: float | None = None
    ) -> tuple[list[Any], str | None]:
        """GET /users/{organizerId}/onlineMeetings/{id}/attendanceReports, every page up to `limit` reports (one more
        when there are more, so the caller knows): (the reports, the first request-id).

        Graph lists at most the 50 most recent; for a channel meeting, those of every meeting in the channel."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}/attendanceReports"
        reports: list[Any] = []
        first_request_id: str | None = None
        for number, (values, request_id) in enumerate(self._pages(ATTENDANCE_REPORTS, path, deadline)):
            first_request_id = request_id if number == 0 else first_request_id
            reports.extend(values[: limit + 1 - len(reports)])
            if len(reports) > limit:
                break
        return reports, first_request_id

    def attendance_records(
        self, organizer_id: str, meeting_id: str, report_id: str, deadline: float | None = None
    ) -> Iterator[Any]:
        """GET .../attendanceReports/{reportId}/attendanceRecords, every page, each read when the records before it
        are taken (a caller that stops taking reads no further page). (Get meetingAttendanceReport with $expand would
        save a request, but Graph documents it as not supporting channel meetings.)"""
        path = (
            f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}/attendanceReports/"
            f"{quote(report_id, safe='')}/attendanceRecords"
        )
        return itertools.chain.from_iterable(values for values, _ in self._pages(ATTENDANCE_RECORDS, path, deadline))

    def _pages(self, operation: str, path: str, deadline: float | None) -> Iterator[tuple[list[Any], str | None]]:
        """A collection's `value` and request-id, page after page while Graph sends @odata.nextLink (only ever on
        Graph's own origin, never to a page already read), each page requested when the one before is taken, and none
        after the deadline: the retry budget bounds the whole reading, not only each page's retries."""
        deadline = deadline if deadline is not None else self.deadline()
        read = {path}
        for _ in range(MAX_PAGES):
            if time.monotonic() >= deadline:
                raise GraphUnavailable(GraphErrorInfo(None, OUT_OF_TIME, NOT_READ_IN_TIME), 1)
            response = self._send("GET", operation, path, None, deadline)
            payload = response.payload if isinstance(response.payload, dict) else {}
            values = payload.get("value")
            if not isinstance(values, list):
                raise _invalid(response, "the success response is not a collection (no `value` list)")
            next_link = payload.get("@odata.nextLink")
            yield values, response.request_id
            if next_link is None:
                return
            next_path = self._own_path(next_link)
            if next_path is None:
                # Never followed: the request would carry the bridge's token, and the answer people's addresses.
                raise _invalid(response, "@odata.nextLink is not a URL on Graph's own origin and API version")
            if next_path in read:
                raise _invalid(response, "@odata.nextLink leads back to a page already read")
            path = next_path
            read.add(path)
        raise _invalid(response, f"the collection runs over more than {MAX_PAGES} pages")

    def _own_path(self, link: object) -> str | None:
        """The path and query of a nextLink below the client's base URL, or None if it leads anywhere else."""
        if not isinstance(link, str) or len(link) > MAX_NEXT_LINK_LENGTH or not link.isascii() or not link.isprintable():
            return None
        try:
            target, base = urlsplit(link), urlsplit(self._endpoint.base_url)
            same_origin = (
                target.scheme == base.scheme
                and target.hostname is not None
                and target.hostname == base.hostname
                and (target.port or _DEFAULT_PORTS.get(target.scheme)) == (base.port or _DEFAULT_PORTS.get(base.scheme))
            )
        except ValueError:  # a port that is not a number
            return None
        # Checked as servers and proxies read it (percent-decoded, RFC 3986 6.2.2.2): an encoded dot segment is one; an
        # encoded slash or backslash (which some decode into a separator) and an encoded "%" (decoded twice) are refused.
        decoded = unquote(target.path)
        below = (
            target.path.startswith(base.path + "/")
            and not any(refused in target.path.lower() for refused in ("%2f", "%5c", "%25", "\\"))
            and not {".", ".."} & set(decoded.split("/"))
        )
        if not same_origin or not below or target.username or target.password or target.fragment:
            return None
        return target.path.removeprefix(base.path) + (f"?{target.query}" if target.query else "")

    def _events_path(self, organizer_id: str) -> str:
        return f"/users/{quote(organizer_id, safe='')}/events"

    def _event_path(self, organizer_id: str, event_id: str) -> str:
        return f"{self._events_path(organizer_id)}/{quote(event_id, safe='')}"

    def _gone_if_404(
        self, method: str, operation: str, path: str, body: bytes | None, deadline: float | None, language: str | None
    ) -> bool:
        try:
            self._send(method, operation, path, body, deadline, language)
        except GraphRefused as error:
            if error.info.http_status == 404:
                return False
            raise
        return True

    def deadline(self) -> float:
        """A monotonic deadline one retry budget from now: pass it to every call of one invocation."""
        return time.monotonic() + self._retry_policy.budget_seconds

    def wait_out_throttle(self, error: GraphThrottled, deadline: float | None) -> None:
        """Wait, up to the deadline, for the pause of this instance's throttle that kept a call from being sent (code
        ThrottledHere): a booking that cannot be re-enqueued is redelivered at once, so without this wait each of its
        deliveries would be spent on the pause in no time, and the booking dead-lettered though Graph was never asked."""
        if self._throttle is None or error.info.code != THROTTLED_HERE or deadline is None:
            return
        self._throttle.wait_out(min(error.retry_after_seconds, deadline - time.monotonic()))

    def close(self) -> None:
        self._endpoint.close()

    def _meetings_path(self, organizer_id: str) -> str:
        return f"/users/{quote(organizer_id, safe='')}/onlineMeetings"

    def _send(
        self,
        method: str,
        operation: str,
        path: str,
        body: bytes | None,
        deadline: float | None,
        language: str | None = None,
    ) -> GraphResponse:
        """One call with its retries, each attempt a span. `language` (a validated BCP 47 tag) goes out as
        Accept-Language: Graph writes the meeting's joinInformation in it, on every response that carries the meeting."""
        call = _Call()
        try:
            return self._attempts(call, method, operation, path, body, deadline, language)
        except BridgeError as error:
            # Whatever ends the call (Graph's refusal, a token failure on the retry), an earlier attempt may stand.
            error.maybe_applied = error.maybe_applied or call.maybe_applied
            raise

    def _attempts(
        self,
        call: _Call,
        method: str,
        operation: str,
        path: str,
        body: bytes | None,
        deadline: float | None,
        language: str | None,
    ) -> GraphResponse:
        policy = self._retry_policy
        deadline = deadline if deadline is not None else self.deadline()
        attempt = 0
        while True:
            attempt += 1
            client_request_id = str(uuid.uuid4())
            headers = {"Authorization": f"Bearer {self._bearer_token()}", "client-request-id": client_request_id}
            if language:
                headers["Accept-Language"] = language
            remaining = deadline - time.monotonic()
            permit = self._throttle.acquire(path, remaining) if self._throttle is not None else Permit.unthrottled()
            if isinstance(permit, float):
                # This instance may not send before the deadline: throttled, but by itself. The request was not sent,
                # so Graph answered nothing (no status) and this attempt cannot have been applied.
                info = GraphErrorInfo(None, THROTTLED_HERE, NOT_SENT_WHILE_THROTTLED, None, client_request_id, permit)
                raise GraphThrottled(info, attempt, permit)
            # What is left once the throttle let the request through: its wait is part of the budget.
            timeout = (CONNECT_TIMEOUT_SECONDS, max(1.0, min(self._read_timeout, deadline - time.monotonic())))
            try:
                with permit:
                    response = self._request(method, operation, attempt, path, body, headers, timeout)
                    permit.answered(response.status, response.headers.get("Retry-After"))
            except TransportError as error:
                info = GraphErrorInfo(None, error.code, error.description, None, client_request_id)
                call.maybe_applied |= not isinstance(error, NotSent)
            else:
                kind = classify(response.status)
                if kind is ResponseKind.SUCCESS and response.status not in _NO_CONTENT:
                    return replace(_success(response, client_request_id, attempt), repeated=call.maybe_applied)
                if kind is ResponseKind.SUCCESS:
                    return GraphResponse(response.status, None, _request_id(response), call.maybe_applied)
                info = error_info(response.status, response.reason, response.headers, response.body, client_request_id)
                call.maybe_applied |= response.status in _MAYBE_APPLIED_STATUSES
                if kind is ResponseKind.ACCESS_DENIED:
                    raise GraphAccessDenied(info)
                if kind is ResponseKind.UNAVAILABLE:
                    raise GraphUnavailable(info, attempt)
                if kind in (ResponseKind.REFUSED, ResponseKind.NOT_FOUND):
                    raise GraphRefused(info)

            wait = policy.backoff_seconds(attempt, info.retry_after_seconds)
            if attempt >= policy.max_attempts or time.monotonic() + wait >= deadline:
                if info.retry_after_seconds is not None:
                    raise GraphThrottled(info, attempt, info.retry_after_seconds)
                raise GraphUnavailable(info, attempt)
            logger.warning(
                "graph retry method=%s attempt=%d status=%s code=%s waitSeconds=%.2f graphRequestId=%s",
                method,
                attempt,
                info.http_status,
                escaped(info.code),
                wait,
                escaped(info.request_id),
            )
            if info.retry_after_seconds is not None:
                record_retry_after_wait(operation, wait)
            time.sleep(wait)

    def _request(
        self,
        method: str,
        operation: str,
        attempt: int,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> HttpResponse:
        """One HTTP request: a span of the booking's trace, whose traceparent the request carries."""
        endpoint = self._endpoint
        with graph_request(method, operation, endpoint.host, attempt) as call:
            call.carry_trace_context(headers)
            response = endpoint.request(method, path, body=body, headers=headers, timeout=timeout)
            call.responded(response.status, _request_id(response))
        return response


@dataclass
class _Call:
    """What one call's attempts have learned: whether any may have been applied."""

    maybe_applied: bool = False


def _success(response: HttpResponse, client_request_id: str, attempt: int) -> GraphResponse:
    """The response's JSON; a success whose body cannot be read still says Graph applied the request."""
    request_id = _request_id(response)
    try:
        payload = json.loads(response.body)
    except (ValueError, RecursionError):
        info = GraphErrorInfo(
            response.status, "InvalidResponse", "the success response is not JSON", request_id, client_request_id
        )
        unreadable = GraphUnavailable(info, attempt)
        unreadable.maybe_applied = True  # Graph applied it: it said so, in a body that cannot be read
        raise unreadable from None
    return GraphResponse(response.status, payload, request_id)


def _invalid(response: GraphResponse, problem: str) -> GraphUnavailable:
    """A success Graph's caller cannot use: the call may succeed later (a later delivery), as any bad answer."""
    return GraphUnavailable(GraphErrorInfo(response.status, "InvalidResponse", problem, response.request_id), 1)


def _query(odata_filter: str) -> str:
    """$filter=..., percent-encoded (spaces as %20, which Graph reads; quotes and slashes too)."""
    return f"$filter={quote(odata_filter, safe='')}"


def _request_id(response: HttpResponse) -> str | None:
    value = response.headers.get("request-id")
    return bounded(value, MAX_REQUEST_ID_LENGTH) if value else None
