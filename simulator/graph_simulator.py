"""GraphSimulator: Graph's onlineMeetings endpoints and App Service's identity endpoint on one loopback port.

Graph side: POST /v1.0/users/{userId}/onlineMeetings/createOrGet, and GET, PATCH and DELETE
of /v1.0/users/{userId}/onlineMeetings/{meetingId}; a meeting's attendance reports (simulator.attendance_api) and
the organizer's Outlook events (simulator.events_api).

The function app runs against it unchanged: GRAPH_BASE_URL points at /v1.0, and
IDENTITY_ENDPOINT / IDENTITY_HEADER make azure-identity's ManagedIdentityCredential ask this
process for tokens (scope "<origin>/.default", so the token resource is the origin).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from simulator.attendance_api import AttendanceApi
from simulator.dispatch import Dispatcher
from simulator.events_api import EventsApi
from simulator.faults import Fault, FaultQueue
from simulator.graph_api import GraphApi
from simulator.identity import ManagedIdentityEndpoint
from simulator.meeting_store import MeetingStore, meeting_key
from simulator.recording import RecordedRequest, Recorder, SimulatorStats
from simulator.server import HttpServerThread
from simulator.throttle import GraphLoad, Latency

DEFAULT_TENANT_ID = "8d2f6b1e-4c3a-4f5e-9b7d-1a2c3e4f5a6b"


class GraphSimulator:
    """In-process Graph + managed identity for tests and the `simulate` command.

    known_organizers: None means every GUID-shaped user id exists; otherwise only these (case-insensitive).
    expected_client_id: when set, the app's only identity is this user-assigned one; token
        requests for any other client_id (or none) get App Service's 400.
    dial_in: whether organizers have Audio Conferencing (audioConferencing is null without it).
    channels: None means every Teams channel thread exists and every organizer is a member; otherwise
        thread id -> member object ids, and createOrGet into any other thread, or by a non-member, answers 403.
    port: 0 picks a free port.
    latency_seconds: added before answering every Graph request (Graph's own latency), for load runs: its median
        when latency_p99_seconds gives it a spread (lognormal, drawn with `seed`), else constant.
    rate_limit_per_second: the tenant's rate: Graph requests beyond it get 429 with Retry-After in whole seconds.
    mailbox_concurrency: requests on /users/{id}/events in progress for one user beyond this many get 429
        ApplicationThrottled at once, with Retry-After mailbox_retry_after_seconds (Outlook allows 4 per app).
    """

    def __init__(
        self,
        known_organizers: Iterable[str] | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        token_lifetime_seconds: float = 86400,
        expected_client_id: str | None = None,
        *,
        dial_in: bool = True,
        channels: Mapping[str, Iterable[str]] | None = None,
        port: int = 0,
        latency_seconds: float = 0.0,
        latency_p99_seconds: float | None = None,
        rate_limit_per_second: float | None = None,
        mailbox_concurrency: int | None = None,
        mailbox_retry_after_seconds: int = 1,
        seed: int = 0,
    ) -> None:
        if isinstance(known_organizers, str):
            raise TypeError("known_organizers is a collection of user ids, not one id")
        self.tenant_id = tenant_id
        self.identity_header = secrets.token_urlsafe(24)
        self._port = port
        self._server: HttpServerThread | None = None
        self._stopping = threading.Event()
        self._faults = FaultQueue()
        self._recorder = Recorder()
        self._store = MeetingStore()
        self._identity = ManagedIdentityEndpoint(
            secret=self.identity_header,
            lifetime_seconds=token_lifetime_seconds,
            expected_client_id=expected_client_id,
        )
        self._events = EventsApi(meetings=self._store, tenant_id=tenant_id, dial_in=dial_in, base_url=lambda: self.graph_base_url)
        self._attendance = AttendanceApi(meetings=self._store, tenant_id=tenant_id, base_url=lambda: self.graph_base_url)
        self._graph = GraphApi(
            identity=self._identity,
            store=self._store,
            tenant_id=tenant_id,
            known_organizers=known_organizers,
            dial_in=dial_in,
            base_url=lambda: self.graph_base_url,
            channels=channels,
            events=self._events,
            attendance=self._attendance,
        )
        self._load = GraphLoad(
            Latency(latency_seconds, latency_p99_seconds, seed=seed),
            rate_per_second=rate_limit_per_second,
            mailbox_concurrency=mailbox_concurrency,
            mailbox_retry_after_seconds=mailbox_retry_after_seconds,
        )
        self._dispatcher = Dispatcher(
            graph=self._graph,
            identity=self._identity,
            faults=self._faults,
            recorder=self._recorder,
            stopping=self._stopping,
            load=self._load,
        )

    # Lifecycle

    def start(self) -> GraphSimulator:
        """Bind 127.0.0.1 and serve on a background thread."""
        if self._server is not None:
            raise RuntimeError("GraphSimulator is already started")
        self._stopping.clear()
        self._server = HttpServerThread(self._dispatcher, "127.0.0.1", self._port)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; requests still waiting on a delay are dropped."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.stop()
        self._server = None

    def __enter__(self) -> GraphSimulator:
        return self.start() if self._server is None else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    # Where clients connect

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT: the token resource Graph calls accept (scope = origin + "/.default")."""
        if self._server is None:
            raise RuntimeError("GraphSimulator is not started; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def graph_base_url(self) -> str:
        """The GRAPH_BASE_URL to give the app: http://127.0.0.1:PORT/v1.0."""
        return f"{self.origin}/v1.0"

    @property
    def identity_endpoint(self) -> str:
        """The IDENTITY_ENDPOINT to give the app (send identity_header as IDENTITY_HEADER)."""
        return f"{self.origin}/msi/token"

    # Shaping behaviour

    def deny_organizer(self, user_id: str) -> None:
        """Requests for this user's meetings answer 403, as when no Teams application access policy covers them."""
        self._graph.deny(user_id)

    def allow_organizer(self, user_id: str) -> None:
        """Undo deny_organizer, as when the access policy is granted again."""
        self._graph.allow(user_id)

    def inject(self, fault: Fault) -> None:
        """Queue a fault for its target; faults apply in the order they were injected."""
        self._faults.push(fault)

    def chaos(self, faults: Sequence[Fault], probability: float, *, seed: int | None = None) -> None:
        """From now on, a request with no queued fault gets, with `probability`, one of its target's `faults` at random.

        Each Fault's `target` says which side it hits ("graph" or "token"); queued faults (inject)
        keep priority. `seed` makes the picks repeatable for the same sequence of requests.
        chaos([], 0) turns it off, as do stop_chaos() and reset().
        """
        self._faults.chaos(faults, probability, seed)

    def stop_chaos(self) -> None:
        """Stop random faults; queued ones stay."""
        self._faults.stop_chaos()

    def reset(self) -> None:
        """Forget meetings (live and deleted), queued faults, chaos, recorded requests and counters (the load's too).

        Denials and issued tokens stay.
        """
        self._store.clear()
        self._events.clear()
        self._attendance.clear()
        self._faults.clear()
        self._recorder.reset()
        self._load.reset()

    # Attendance reports (after a meeting)

    def add_attendance_report(
        self,
        organizer_id: str,
        meeting_id: str,
        *,
        start: str,
        end: str,
        records: list[dict[str, Any]],
        participant_count: int | None = None,
    ) -> str:
        """Teams made an attendance report of one session of this live meeting: its id. Times are Edm.DateTimeOffset
        text, records Graph's attendanceRecord objects, returned as given."""
        return self._attendance.add_report(
            organizer_id, meeting_id, start=start, end=end, records=records, participant_count=participant_count
        )

    def remove_attendance_report(self, organizer_id: str, meeting_id: str, report_id: str) -> None:
        """The report is no longer listed (Graph lists only the 50 most recent of a meeting)."""
        self._attendance.remove_report(organizer_id, meeting_id, report_id)

    def hold_meeting(self, organizer_id: str, meeting_id: str) -> str:
        """The meeting takes place as booked (everyone invited joins at its start, leaves at its end): its report's id."""
        return self._attendance.hold_meeting(organizer_id, meeting_id)

    def deny_meeting_artifacts(self, organizer_id: str) -> None:
        """This organizer's attendance reports answer 403, as when the access policy does not cover OnlineMeetingArtifact."""
        self._attendance.deny(organizer_id)

    def allow_meeting_artifacts(self, organizer_id: str) -> None:
        """Undo deny_meeting_artifacts, as when the policy is granted to the organizer."""
        self._attendance.allow(organizer_id)

    def page_attendance(self, page_size: int, *, next_link_base: str | None = None) -> None:
        """Attendance lists answer `page_size` items a page; their next links lead below `next_link_base` if given (a
        Graph that sends the client elsewhere: another origin, another version), else below graph_base_url."""
        self._attendance.page_size = page_size
        self._attendance.next_link_base = next_link_base

    # What happened

    def meeting_for(self, organizer_id: str, external_id: str) -> dict[str, Any] | None:
        """The live meeting, exactly as createOrGet returns it without Accept-Language, or None (also after it was deleted)."""
        meeting = self._store.get(meeting_key(self.tenant_id, organizer_id, external_id))
        return None if meeting is None else self._graph.as_answered(meeting)

    def meetings(self) -> list[dict[str, Any]]:
        """Every live (created and not deleted) meeting, oldest first, as Graph answers without Accept-Language."""
        return [self._graph.as_answered(meeting) for meeting in self._store.all()]

    def deleted_meetings(self) -> list[dict[str, Any]]:
        """Every meeting deleted through DELETE, as it was when deleted, oldest deletion first."""
        return [self._graph.as_answered(meeting) for meeting in self._store.deleted()]

    def events(self, state: str = "live") -> list[dict[str, Any]]:
        """Outlook events in this state ("live", "cancelled": in Deleted Items, "deleted"), oldest first; each with
        `_properties` (its single-value extended properties) and `_organizerId`."""
        return self._events.events(state)

    def refuse_event_meeting_options(self, refused: bool = True) -> None:
        """An event's Teams meeting answers 400 to a PATCH, as Graph may for calendar-backed meetings."""
        self._events.refuse_meeting_options(refused)

    @property
    def stats(self) -> SimulatorStats:
        """A snapshot of the request, connection, status and load counters."""
        return self._recorder.stats(self._load.counters())

    def graph_requests(self) -> list[RecordedRequest]:
        """Every request to the Graph side, as received (faulted and rejected ones included)."""
        return self._recorder.requests("graph")

    def token_requests(self) -> list[RecordedRequest]:
        """Every request to the identity endpoint, as received."""
        return self._recorder.requests("token")
