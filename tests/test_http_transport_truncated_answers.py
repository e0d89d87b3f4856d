"""An answer cut short at its deadline is never returned as whole (found by the issue-12 review).

Shut down at its deadline, a connection reads as a clean end of stream, which can end a head (http.client's
header loop stops there) or a body delimited by the connection's close without any error: such an answer
is NoAnswerInTime (ReadTimeoutError), never a partial HttpReply.
"""

from __future__ import annotations

import socket
import time

import pytest

from shared.http_transport import HttpEndpoint, HttpReply, NoAnswerInTime
from tests.loopback_http import scripted_server

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def body_until_close_trickled(connection: socket.socket) -> bool:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    for byte in b"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]":
        time.sleep(0.1)
        connection.sendall(bytes([byte]))
    return True


def head_trickled(connection: socket.socket) -> bool:
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(20):
        time.sleep(0.1)
        connection.sendall(b"X-Padding: a\r\n")
    connection.sendall(b'ETag: W/"1"\r\nContent-Length: 2\r\n\r\n{}')
    return True


def outcome(answer) -> HttpReply | BaseException:
    with scripted_server(answer) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}", 1, {})
        try:
            return endpoint.request("GET", "/", timeout=(1.0, 1.0))
        except BaseException as error:
            return error
        finally:
            endpoint.close()


def test_a_body_delimited_by_close_and_cut_by_the_watchdog_is_no_answer_in_time() -> None:
    result = outcome(body_until_close_trickled)
    assert isinstance(result, NoAnswerInTime), f"the watchdog cut the answer at 1 s, yet request() returned {result!r}"


def test_a_head_cut_by_the_watchdog_is_no_answer_in_time() -> None:
    """The head never arrived whole (no Content-Length, no ETag yet): request() returns a 200 with an empty body."""
    result = outcome(head_trickled)
    assert isinstance(result, NoAnswerInTime), f"the watchdog cut the head at 1 s, yet request() returned {result!r}"
