"""Microsoft Graph's onlineMeetings and events calls over one connection pool: tokens, timeouts, retries, errors.

One client per process, used by every invocation thread: the connection pool (shared.http_transport) is
thread-safe and keeps TLS connections to Graph alive between messages. Retrying a
createOrGet POST is safe because the externalId makes it idempotent; that is the point of it.
Each request is a span of the booking's trace and carries its traceparent (shared.telemetry).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from shared.errors import GraphAccessDenied, GraphError, GraphErrorInfo, GraphRefused, GraphThrottled, GraphUnavailable
from shared.graph_answers import MAX_REQUEST_ID_LENGTH, Answer, bounded, classify, error_info
from shared.http_transport import HttpEndpoint, HttpReply, NoAnswerInTime, NotSent, TransportError
from shared.log_text import escaped
from shared.retry_policy import RetryPolicy
from shared.telemetry import (
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
# Answers after which the request may have been applied all the same: a gateway timed out or failed behind it.
_MAYBE_APPLIED_STATUSES = frozenset({408, 500, 502, 504})
# Successes without a body: DELETE (204) and an event's cancel action (202 Accepted).
_NO_CONTENT = (202, 204)
_JSON_BOTH_WAYS = {"Accept": "application/json", "Content-Type": "application/json"}


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
    ) -> None:
        self._bearer_token = bearer_token
        self._retry_policy = retry_policy or RetryPolicy()
        self._read_timeout = read_timeout_seconds
        self._endpoint = HttpEndpoint(base_url, max_connections, _JSON_BOTH_WAYS)

    def create_or_get(
        self, organizer_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """POST /users/{organizerId}/onlineMeetings/createOrGet; 201 = created, 200 = existing."""
        return self._send("POST", CREATE_OR_GET, f"{self._meetings_path(organizer_id)}/createOrGet", body, deadline, language)

    def update_meeting(
        self, organizer_id: str, meeting_id: str, body: bytes, deadline: float | None = None, *, language: str | None = None
    ) -> GraphResponse:
        """PATCH /users/{organizerId}/onlineMeetings/{id}; Graph answers 200 with the updated meeting.

        A PATCH sets absolute values, so retrying one whose answer was lost is harmless."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}"
        return self._send("PATCH", ONLINE_MEETING, path, body, deadline, language)

    def delete_meeting(
        self, organizer_id: str, meeting_id: str, deadline: float | None = None, *, language: str | None = None
    ) -> bool:
        """DELETE /users/{organizerId}/onlineMeetings/{id}: True if deleted now, False if it was already gone (404)."""
        path = f"{self._meetings_path(organizer_id)}/{quote(meeting_id, safe='')}"
        try:
            self._send("DELETE", ONLINE_MEETING, path, None, deadline, language)
        except GraphRefused as error:
            if error.info.http_status == 404:
                return False
            raise
        return True

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
        Accept-Language: Graph writes the meeting's joinInformation in it, on every answer that carries the meeting."""
        policy = self._retry_policy
        deadline = deadline if deadline is not None else self.deadline()
        attempt = 0
        maybe_applied = False
        while True:
            attempt += 1
            client_request_id = str(uuid.uuid4())
            remaining = deadline - time.monotonic()
            timeout = (CONNECT_TIMEOUT_SECONDS, max(1.0, min(self._read_timeout, remaining)))
            headers = {"Authorization": f"Bearer {self._bearer_token()}", "client-request-id": client_request_id}
            if language:
                headers["Accept-Language"] = language
            try:
                reply = self._request(method, operation, attempt, path, body, headers, timeout)
            except TransportError as error:
                info = GraphErrorInfo(None, type(error).__name__, _connection_failure(error), None, client_request_id)
                maybe_applied |= not isinstance(error, NotSent)
            else:
                answer = classify(reply.status)
                if answer is Answer.SUCCESS and reply.status not in _NO_CONTENT:
                    return replace(_success(reply, client_request_id, attempt), repeated=maybe_applied)
                if answer is Answer.SUCCESS:
                    return GraphResponse(reply.status, None, _request_id(reply), maybe_applied)
                info = error_info(reply.status, reply.reason, reply.headers, reply.body, client_request_id)
                maybe_applied |= reply.status in _MAYBE_APPLIED_STATUSES
                if answer is Answer.ACCESS_DENIED:
                    raise _marked(GraphAccessDenied(info), maybe_applied)
                if answer is Answer.UNAVAILABLE:
                    raise _marked(GraphUnavailable(info, attempt), maybe_applied)
                if answer in (Answer.REFUSED, Answer.NOT_FOUND):
                    raise _marked(GraphRefused(info), maybe_applied)

            wait = policy.backoff_seconds(attempt, info.retry_after_seconds)
            if attempt >= policy.max_attempts or time.monotonic() + wait >= deadline:
                if info.retry_after_seconds is not None:
                    raise _marked(GraphThrottled(info, attempt, info.retry_after_seconds), maybe_applied)
                raise _marked(GraphUnavailable(info, attempt), maybe_applied)
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
    ) -> HttpReply:
        """One HTTP request: a span of the booking's trace, whose traceparent the request carries."""
        endpoint = self._endpoint
        with graph_request(method, operation, endpoint.host, attempt) as call:
            call.carry_trace_context(headers)
            reply = endpoint.request(method, path, body=body, headers=headers, timeout=timeout)
            call.answered(reply.status, _request_id(reply))
        return reply


def _marked(error: GraphError, maybe_applied: bool) -> GraphError:
    error.maybe_applied = maybe_applied
    return error


def _success(reply: HttpReply, client_request_id: str, attempt: int) -> GraphResponse:
    """The answer's JSON; a success whose body cannot be read still says Graph applied the request."""
    request_id = _request_id(reply)
    try:
        payload = json.loads(reply.body)
    except (ValueError, RecursionError):
        info = GraphErrorInfo(reply.status, "InvalidResponse", "the success response is not JSON", request_id, client_request_id)
        raise _marked(GraphUnavailable(info, attempt), True) from None
    return GraphResponse(reply.status, payload, request_id)


def _query(odata_filter: str) -> str:
    """$filter=..., percent-encoded (spaces as %20, which Graph reads; quotes and slashes too)."""
    return f"$filter={quote(odata_filter, safe='')}"


def _request_id(reply: HttpReply) -> str | None:
    value = reply.headers.get("request-id")
    return bounded(value, MAX_REQUEST_ID_LENGTH) if value else None


def _connection_failure(error: Exception) -> str:
    if isinstance(error, NotSent):
        return "could not connect to Graph (refused, not resolved or timed out connecting)"
    if isinstance(error, NoAnswerInTime):
        return "Graph did not answer within the read timeout"
    return "the connection to Graph failed or was dropped before an answer"
