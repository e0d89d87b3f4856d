"""The Graph client over real HTTP on loopback, with a token from azure-identity's managed-identity path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential

from shared.credential import GraphToken
from shared.errors import GraphAccessDenied, GraphRefused, GraphUnavailable
from shared.graph_client import GraphClient
from shared.graph_responses import parse_retry_after
from shared.retry_policy import RetryPolicy
from shared.settings import graph_scope_for
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID

BODY = json.dumps(
    {"externalId": "ext-1", "startDateTime": "2026-12-01T09:00:00Z", "endDateTime": "2026-12-01T09:30:00Z", "subject": "Call"}
).encode()


def client_for(simulator: GraphSimulator, scope: str | None = None, **options: Any) -> GraphClient:
    """A GraphClient on the simulator, with its token from azure-identity's managed-identity path."""
    token = GraphToken(ManagedIdentityCredential(), scope or graph_scope_for(simulator.graph_base_url))
    return GraphClient(simulator.graph_base_url, token.bearer, **options)


@pytest.fixture
def client(managed_identity: GraphSimulator) -> Iterator[GraphClient]:
    quick_retries = RetryPolicy(budget_seconds=5, base_delay_seconds=0.01, max_delay_seconds=0.05)
    graph_client = client_for(managed_identity, retry_policy=quick_retries)
    yield graph_client
    graph_client.close()


def test_201_then_200_for_the_same_external_id(client: GraphClient, graph: GraphSimulator) -> None:
    first = client.create_or_get(ORGANIZER_ID, BODY)
    second = client.create_or_get(ORGANIZER_ID, BODY)

    assert (first.status, second.status) == (201, 200)
    assert first.payload["id"] == second.payload["id"]
    assert first.request_id and first.request_id != second.request_id
    assert len(graph.meetings()) == 1


def test_one_connection_and_one_token_for_many_calls(client: GraphClient, graph: GraphSimulator) -> None:
    for _ in range(10):
        client.create_or_get(ORGANIZER_ID, BODY)
    assert graph.stats.token_requests == 1
    assert graph.stats.connections_opened == 2  # one to the token endpoint, one kept alive for Graph


def test_each_attempt_has_its_own_client_request_id(client: GraphClient, graph: GraphSimulator) -> None:
    graph.inject(Fault(status=503))
    client.create_or_get(ORGANIZER_ID, BODY)
    ids = [request.headers["client-request-id"] for request in graph.graph_requests()]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_429_is_retried_after_retry_after(client: GraphClient, graph: GraphSimulator) -> None:
    graph.inject(Fault(status=429, retry_after="1"))
    response = client.create_or_get(ORGANIZER_ID, BODY)

    assert response.status == 201
    assert len(graph.graph_requests()) == 2


@pytest.mark.parametrize("status", [503, 504])
def test_gateway_failures_are_retried_with_backoff(client: GraphClient, graph: GraphSimulator, status: int) -> None:
    graph.inject(Fault(status=status, times=3))
    assert client.create_or_get(ORGANIZER_ID, BODY).status == 201
    assert len(graph.graph_requests()) == 4


def test_a_dropped_connection_is_retried(client: GraphClient, graph: GraphSimulator) -> None:
    graph.inject(Fault(drop_connection=True))
    assert client.create_or_get(ORGANIZER_ID, BODY).status == 201


def test_a_dropped_answer_after_graph_created_the_meeting_returns_that_meeting(
    client: GraphClient, graph: GraphSimulator
) -> None:
    graph.inject(Fault(drop_connection=True, drop_after_processing=True))
    response = client.create_or_get(ORGANIZER_ID, BODY)

    assert response.status == 200  # the retry found the meeting the lost answer had created
    assert len(graph.meetings()) == 1


def test_a_slow_answer_past_the_read_timeout_is_retried_without_a_second_meeting(managed_identity: GraphSimulator) -> None:
    token = GraphToken(ManagedIdentityCredential(), graph_scope_for(managed_identity.graph_base_url))
    impatient = GraphClient(
        managed_identity.graph_base_url, token.bearer, read_timeout_seconds=0.3, retry_policy=RetryPolicy(budget_seconds=5)
    )
    managed_identity.inject(Fault(delay_seconds=1.0))
    try:
        response = impatient.create_or_get(ORGANIZER_ID, BODY)
    finally:
        impatient.close()
    assert response.status in (200, 201)
    assert len(managed_identity.meetings()) == 1


def test_throttling_beyond_the_budget_raises_transient_with_graphs_details(client: GraphClient, graph: GraphSimulator) -> None:
    graph.inject(Fault(status=429, retry_after="30"))
    with pytest.raises(GraphUnavailable) as raised:
        client.create_or_get(ORGANIZER_ID, BODY)

    info = raised.value.info
    assert (info.http_status, info.code, info.retry_after_seconds) == (429, "TooManyRequests", 30)
    assert info.request_id
    assert len(graph.graph_requests()) == 1  # it did not sleep past its budget


def test_persistent_503_gives_up_within_the_budget(managed_identity: GraphSimulator) -> None:
    token = GraphToken(ManagedIdentityCredential(), graph_scope_for(managed_identity.graph_base_url))
    quick = GraphClient(
        managed_identity.graph_base_url,
        token.bearer,
        retry_policy=RetryPolicy(budget_seconds=0.5, base_delay_seconds=0.05, max_delay_seconds=0.1),
    )
    managed_identity.inject(Fault(status=503, times=1000))
    try:
        with pytest.raises(GraphUnavailable) as raised:
            quick.create_or_get(ORGANIZER_ID, BODY)
    finally:
        quick.close()
    assert raised.value.attempts >= 2
    assert raised.value.info.http_status == 503


@pytest.mark.parametrize("status", [500, 502])
def test_other_server_errors_are_left_to_redelivery(client: GraphClient, graph: GraphSimulator, status: int) -> None:
    graph.inject(Fault(status=status))
    with pytest.raises(GraphUnavailable):
        client.create_or_get(ORGANIZER_ID, BODY)
    assert len(graph.graph_requests()) == 1


def test_bad_request_is_permanent_and_parsed_from_graphs_error_format(client: GraphClient, graph: GraphSimulator) -> None:
    bad = json.dumps({"externalId": "x", "endDateTime": "2026-12-01T09:30:00Z"}).encode()
    with pytest.raises(GraphRefused) as raised:
        client.create_or_get(ORGANIZER_ID, bad)

    info = raised.value.info
    assert (info.http_status, info.code) == (400, "BadRequest")
    assert info.message
    assert info.request_id
    assert len(graph.graph_requests()) == 1


def test_unknown_organizer_is_permanent(client: GraphClient) -> None:
    with pytest.raises(GraphRefused) as raised:
        client.create_or_get("00000000-0000-0000-0000-000000000404", BODY)
    assert raised.value.info.http_status == 404


def test_forbidden_is_access_denied(client: GraphClient, graph: GraphSimulator) -> None:
    graph.deny_organizer(ORGANIZER_ID)
    with pytest.raises(GraphAccessDenied) as raised:
        client.create_or_get(ORGANIZER_ID, BODY)
    assert raised.value.info.http_status == 403
    assert "Grant-CsApplicationAccessPolicy" in str(raised.value)


def test_a_token_for_another_audience_is_refused_as_access_denied(managed_identity: GraphSimulator) -> None:
    stranger = client_for(managed_identity, scope="https://graph.microsoft.com/.default")
    try:
        with pytest.raises(GraphAccessDenied) as raised:
            stranger.create_or_get(ORGANIZER_ID, BODY)
    finally:
        stranger.close()
    assert raised.value.info.http_status == 401


def test_proxy_settings_from_the_environment_are_honoured(
    managed_identity: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    proxied = client_for(managed_identity, retry_policy=RetryPolicy(budget_seconds=0.2))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = client_for(managed_identity)
    try:
        with pytest.raises(GraphUnavailable):
            proxied.create_or_get(ORGANIZER_ID, BODY)
        assert direct.create_or_get(ORGANIZER_ID, BODY).status == 201
    finally:
        proxied.close()
        direct.close()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=12), usegmt=True), now) == 12
    assert parse_retry_after(format_datetime(now - timedelta(seconds=12), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=8)
    waits = [policy.backoff_seconds(10, None) for _ in range(200)]
    assert all(0 <= wait <= 8 for wait in waits)
    assert len(set(waits)) > 100
    assert policy.backoff_seconds(1, 3.0) == 3.0


def test_a_redirect_is_a_refusal_and_is_never_followed() -> None:
    """Graph does not redirect these calls; following one would carry the subject and attendees to another host."""
    elsewhere: list[str] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            elsewhere.append(self.path)
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other.server_port}/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    other, redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere), ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for server in (other, redirecting):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        client = GraphClient(f"http://127.0.0.1:{redirecting.server_port}/v1.0", lambda: "token")
        with pytest.raises(GraphRefused) as raised:
            client.create_or_get(ORGANIZER_ID, BODY)
        client.close()
    finally:
        for server in (other, redirecting):
            server.shutdown()
            server.server_close()
    assert raised.value.info.http_status == 307
    assert elsewhere == []
