"""shared.http_transport against hostile responses:

- a malformed header line makes urllib3 log, at WARNING, "Failed to parse headers (url=...)": the URL
  carries the organizer's object id (for the state table, the record's key), so no log line may keep it;
- the read timeout bounds each recv(), not the response: a body trickled in must not hold one attempt
  (and the invocation) far beyond the read timeout and the call's deadline;
- a response compressed though none was asked for is not inflated (no decompression bomb);
- a response of any size is not read into memory whole.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from shared.errors import GraphUnavailable
from shared.graph_client import GraphClient
from shared.http_transport import MAX_RESPONSE_BYTES, TransportError
from shared.retry_policy import RetryPolicy
from tests.bookings import ORGANIZER_ID
from tests.loopback_http import answered_with, requested, scripted_server

ONE_ATTEMPT = RetryPolicy(budget_seconds=5, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


@pytest.fixture
def malformed_header_server() -> Iterator[int]:
    body = b'{"id": "meeting-1"}'
    with scripted_server(
        answered_with(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nthis line has no colon\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
    ) as port:
        yield port


def test_a_malformed_response_header_does_not_put_the_organizer_id_in_the_logs(
    malformed_header_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 reads the head as far as it can and warns: no log record carries the organizer's id."""
    client = GraphClient(f"http://127.0.0.1:{malformed_header_server}/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT)
    with caplog.at_level(logging.DEBUG):
        client.create_or_get(ORGANIZER_ID, b"{}")
    client.close()
    assert any("withheld" in record.getMessage() for record in caplog.records), "urllib3's warning was not seen"
    leaked = [
        f"{record.name} {record.levelname}: {record.getMessage()[:160]}"
        for record in caplog.records
        if ORGANIZER_ID in record.getMessage()
    ]
    assert not leaked, leaked


@pytest.fixture
def trickling_server() -> Iterator[int]:
    body = b'{"id": "meeting-1"}'.ljust(24)

    def trickle(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n")
        for byte in body:  # one byte every 0.25 s: each recv() is well within any read timeout
            time.sleep(0.25)
            connection.sendall(bytes([byte]))

    with scripted_server(lambda c: trickle(c) or True) as port:
        yield port


def test_an_attempt_ends_by_the_deadline_even_if_the_body_trickles_in(trickling_server: int) -> None:
    """The call gives up by its deadline (2 s here; read timeout 1 s), not when the server is done (6 s)."""
    client = GraphClient(
        f"http://127.0.0.1:{trickling_server}/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT, read_timeout_seconds=1.0
    )
    started = time.monotonic()
    with contextlib.suppress(GraphUnavailable):  # giving up is the expected outcome; only the time matters
        client.create_or_get(ORGANIZER_ID, b"{}", deadline=started + 2.0)
    elapsed = time.monotonic() - started
    client.close()
    assert elapsed < 4.0, f"the attempt took {elapsed:.1f} s, beyond its 2 s deadline and its 1 s read timeout"


@pytest.fixture
def compressed_server() -> Iterator[int]:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), 9)
    with scripted_server(
        answered_with(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb
        )
    ) as port:
        yield port


def test_an_answer_compressed_though_none_was_asked_for_is_not_inflated(compressed_server: int) -> None:
    """The bridge asks for no encoding: a gzip answer is left as the bytes it is, so it is not JSON."""
    client = GraphClient(f"http://127.0.0.1:{compressed_server}/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT)
    with pytest.raises(GraphUnavailable) as raised:
        client.create_or_get(ORGANIZER_ID, b"{}")
    client.close()
    assert raised.value.info.code == "InvalidResponse"


@pytest.fixture
def oversized_server() -> Iterator[int]:
    size = MAX_RESPONSE_BYTES + 1

    def answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        chunk = b"x" * 65536
        for _ in range(size // len(chunk) + 1):
            connection.sendall(chunk)

    with scripted_server(lambda c: answer(c) or True) as port:
        yield port


def test_an_answer_beyond_the_bound_is_a_transport_error_not_a_body_in_memory(oversized_server: int) -> None:
    with pytest.raises(TransportError, match="larger than"):
        requested(f"http://127.0.0.1:{oversized_server}", "/", timeout=(2.0, 5.0))
