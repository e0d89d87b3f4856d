"""GraphClient's attendance calls over real HTTP on loopback: every page, and next links only on Graph's own origin."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from shared.attendance_report import MAX_REPORTS
from shared.errors import GraphRefused, GraphUnavailable
from shared.graph_client import OUT_OF_TIME, GraphClient
from shared.retry_policy import RetryPolicy
from simulator import GraphSimulator
from simulator.attendance_api import AttendanceApi
from simulator.server import HttpRequest, HttpResponse, json_response
from tests.bookings import ORGANIZER_ID
from tests.follow_ups import record
from tests.test_graph_client import BODY, client_for


class Counting(BaseHTTPRequestHandler):
    """Counts the requests it gets and answers an empty collection: where a misled client would go."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Counting.requests.append(self.path)
        body = b'{"value": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def elsewhere() -> Iterator[str]:
    """Another origin on loopback, that counts what reaches it."""
    Counting.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(managed_identity: GraphSimulator) -> Iterator[GraphClient]:
    graph_client = client_for(managed_identity, retry_policy=RetryPolicy(budget_seconds=5, base_delay_seconds=0.01))
    yield graph_client
    graph_client.close()


@pytest.fixture
def meeting_id(client: GraphClient) -> str:
    return str(client.create_or_get(ORGANIZER_ID, BODY).payload["id"])


def test_every_page_of_reports_and_records_is_read(client: GraphClient, graph: GraphSimulator, meeting_id: str) -> None:
    report_id = graph.add_attendance_report(
        ORGANIZER_ID,
        meeting_id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(f"person-{n}@contoso.com") for n in range(11)],
    )
    for hour in range(10, 14):
        start = f"2026-12-01T{hour}:00:00Z"
        graph.add_attendance_report(ORGANIZER_ID, meeting_id, start=start, end=start, records=[])
    graph.page_attendance(2)

    reports, request_id = client.attendance_reports(ORGANIZER_ID, meeting_id, MAX_REPORTS)
    records = list(client.attendance_records(ORGANIZER_ID, meeting_id, report_id))

    assert len(reports) == 5 and request_id
    assert sorted(r["emailAddress"] for r in records) == sorted(f"person-{n}@contoso.com" for n in range(11))
    assert len(graph.graph_requests()) == 1 + 3 + 6


def test_a_caller_that_stops_taking_reads_no_further_page(client: GraphClient, graph: GraphSimulator, meeting_id: str) -> None:
    """What bounds a follow-up's memory: records are read a page at a time as they are taken, reports up to one past
    the caller's limit."""
    report_id = graph.add_attendance_report(
        ORGANIZER_ID,
        meeting_id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(f"person-{n}@contoso.com") for n in range(11)],
    )
    for hour in range(10, 14):
        start = f"2026-12-01T{hour}:00:00Z"
        graph.add_attendance_report(ORGANIZER_ID, meeting_id, start=start, end=start, records=[])
    graph.page_attendance(2)

    taken = list(itertools.islice(client.attendance_records(ORGANIZER_ID, meeting_id, report_id), 3))
    reports, _ = client.attendance_reports(ORGANIZER_ID, meeting_id, 2)

    assert len(taken) == 3
    assert len(reports) == 3
    assert len(graph.graph_requests()) == 1 + 2 + 2


@pytest.mark.parametrize(
    "base",
    [
        "{elsewhere}/v1.0",
        "{graph}/beta",
        "{graph}/v1.0/..",
        "{graph_https}/v1.0",
        "//{host}/v1.0",
        "",
        "http://user:secret@{host}/v1.0",
        "{graph}/v1.0\n",
    ],
    ids=[
        "another origin",
        "another API version",
        "a dot segment",
        "another scheme",
        "scheme-relative",
        "relative",
        "credentials",
        "a line break",
    ],
)
def test_a_next_link_that_leaves_graphs_origin_or_version_is_never_followed(
    client: GraphClient, graph: GraphSimulator, meeting_id: str, elsewhere: str, base: str
) -> None:
    """Following it would carry the bridge's token elsewhere, and bring back addresses from who knows where."""
    for hour in (9, 10):
        start = f"2026-12-01T{hour:02d}:00:00Z"
        graph.add_attendance_report(ORGANIZER_ID, meeting_id, start=start, end=start, records=[])
    origin = graph.graph_base_url.removesuffix("/v1.0")
    graph.page_attendance(
        1,
        next_link_base=base.format(
            elsewhere=elsewhere, graph=origin, graph_https=origin.replace("http:", "https:"), host=origin.removeprefix("http://")
        ),
    )

    with pytest.raises(GraphUnavailable) as raised:
        client.attendance_reports(ORGANIZER_ID, meeting_id, MAX_REPORTS)

    assert raised.value.info.code == "InvalidResponse"
    assert "nextLink" in raised.value.info.message
    assert Counting.requests == []
    assert len(graph.graph_requests()) == 2  # createOrGet, then the first page only


def test_a_meeting_graph_does_not_know_is_refused_with_404(client: GraphClient) -> None:
    with pytest.raises(GraphRefused) as refused:
        client.attendance_reports(ORGANIZER_ID, "MSpub3QtYS1tZWV0aW5n", MAX_REPORTS)
    assert refused.value.info.http_status == 404


def test_no_page_is_asked_for_once_the_callers_deadline_has_passed(
    client: GraphClient, graph: GraphSimulator, meeting_id: str
) -> None:
    """The retry budget bounds the whole reading of a collection, not only each page's retries: a Graph that answers
    every page in time, but has more pages than the invocation has time for, fails as a slow Graph does."""
    report_id = graph.add_attendance_report(
        ORGANIZER_ID, meeting_id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=[record("ada@contoso.com")]
    )
    before = len(graph.graph_requests())

    with pytest.raises(GraphUnavailable) as raised:
        list(client.attendance_records(ORGANIZER_ID, meeting_id, report_id, deadline=time.monotonic()))

    assert (raised.value.info.http_status, raised.value.info.code) == (None, OUT_OF_TIME)
    assert len(graph.graph_requests()) == before


@pytest.mark.parametrize("query", ["", "?$skiptoken=c2tpcD0w"], ids=["the first page", "a page of its own"])
def test_a_next_link_that_leads_back_to_a_page_already_read_is_a_bad_answer(
    client: GraphClient, graph: GraphSimulator, meeting_id: str, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """A paging loop on Graph's own origin: read once, never again, whatever the page count allows."""
    report_id = graph.add_attendance_report(
        ORGANIZER_ID, meeting_id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=[record("ada@contoso.com")]
    )

    def page(api: AttendanceApi, request: HttpRequest, items: list[dict[str, Any]]) -> HttpResponse:
        link = f"{graph.graph_base_url}{request.path.removeprefix('/v1.0')}{query}"
        return json_response(200, {"value": items, "@odata.nextLink": link})

    monkeypatch.setattr(AttendanceApi, "_page", page)
    before = len(graph.graph_requests())

    with pytest.raises(GraphUnavailable) as raised:
        list(client.attendance_records(ORGANIZER_ID, meeting_id, report_id))

    assert raised.value.info.code == "InvalidResponse"
    assert "already read" in raised.value.info.message
    assert len(graph.graph_requests()) - before == (1 if not query else 2)
