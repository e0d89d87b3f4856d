"""The body of an answer under the watchdog (found by the fourth issue-12 review):

- a chunked body read its size lines and trailers inside one read1, each recv bounded by the read timeout
  alone, so a trickle kept an attempt alive for 3.6 s (size line) or 4.8 s (trailers, then a success)
  with a 0.5 s read timeout; the watchdog now bounds the whole body however many reads it takes;
- a body read until the connection closes takes the watchdog's end of stream for its end: it is a
  timeout, never a short success;
- urllib3 takes the connection back as soon as the body's last byte is read, before the reader ends its
  watch: the next request on it must not be cut short when that watch comes due.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

import pytest

from shared import http_transport
from shared.http_transport import HttpEndpoint, NoAnswerInTime, TransportError
from tests.loopback_http import requested, scripted_server

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")

READ_TIMEOUT = 0.5
# Scheduling on a loaded machine; the failures this catches ran 3 s and more past the read timeout.
MARGIN = 0.5


def trickle(connection: socket.socket, data: bytes) -> None:
    for byte in data:
        time.sleep(0.3)  # each byte well within the read timeout, the whole far beyond it
        connection.sendall(bytes([byte]))


def chunk_size_line_trickled(connection: socket.socket) -> bool:
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    trickle(connection, b"2;ext=abc\r\n{}\r\n0\r\n\r\n")
    return True


def trailers_trickled(connection: socket.socket) -> bool:
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n")
    trickle(connection, b"X-A: bcdefgh\r\n\r\n")
    return True


def body_until_close_trickled(connection: socket.socket) -> bool:
    connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    trickle(connection, b'{"id": "meeting-1"}')
    return True


@pytest.mark.parametrize("answer", [chunk_size_line_trickled, trailers_trickled, body_until_close_trickled])
def test_a_trickled_body_fails_one_read_timeout_after_its_head(answer: Any) -> None:
    with scripted_server(answer) as port:
        started = time.monotonic()
        with pytest.raises(NoAnswerInTime):
            requested(f"http://127.0.0.1:{port}", "/", timeout=(1.0, READ_TIMEOUT))
        elapsed = time.monotonic() - started
    assert elapsed < READ_TIMEOUT + MARGIN, f"{answer.__name__}: waited {elapsed:.2f} s with a {READ_TIMEOUT} s read timeout"


def quick_chunked(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")


def slow_but_in_time(connection: socket.socket) -> None:
    time.sleep(1.0)  # past the first answer's body deadline, well within this request's read timeout
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def test_the_next_request_on_a_connection_outlives_the_previous_answers_body_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first reader is held up between urllib3 taking the connection back and its own end of the watch
    (here: it never ends it); the second request on that connection must still get its answer."""
    disarm = http_transport._WATCHDOG.disarm
    held_up: list[Any] = []

    def held_up_reader(watch: Any) -> bool:
        if sys._getframe(1).f_code.co_name == "_whole_body" and held_up in ([], [watch]):
            held_up[:] = [watch]
            return watch.fired  # the first reader has not got round to it
        return disarm(watch)

    monkeypatch.setattr(http_transport._WATCHDOG, "disarm", held_up_reader)
    with scripted_server(quick_chunked, slow_but_in_time) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}", 1, {})
        assert endpoint.request("GET", "/first", timeout=(1.0, 0.3)).body == b"{}"
        assert endpoint.request("GET", "/second", timeout=(1.0, 3.0)).body == b"{}"
        endpoint.close()


def test_a_whole_answer_leaves_no_watch_behind() -> None:
    live = http_transport._WATCHDOG._live
    with scripted_server(quick_chunked) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}", 1, {})
        for _ in range(3):
            endpoint.request("GET", "/", timeout=(1.0, 1.0))
        endpoint.close()
    assert http_transport._WATCHDOG._live == live


def test_a_failure_the_watchdog_made_is_a_transport_error_of_its_kind() -> None:
    assert issubclass(NoAnswerInTime, TransportError)


def test_a_watchdog_thread_that_died_before_its_loop_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread dies before its loop runs (a trace hook, as a profiler or debugger installs, raising once
    in it): the next arm starts another (the review's proof against a `running` flag set beside the thread)."""
    watchdog = http_transport._Watchdog()
    raised = []

    def trace(frame: Any, event: str, arg: Any) -> None:  # threading installs it in each new thread before run()
        if threading.current_thread().name == "http-answer-watchdog" and not raised:
            raised.append(1)
            raise RuntimeError("a tracer failed once")

    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    threading.settrace(trace)
    try:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            watchdog.disarm(watchdog.arm(time.monotonic() + 60, ours))  # starts the thread, which dies at once
            for _ in range(50):
                if watchdog._thread is not None and not watchdog._thread.is_alive():
                    break
                time.sleep(0.02)
            assert raised
            watch = watchdog.arm(time.monotonic() + 0.1, ours)
            time.sleep(1.0)
            assert watch.fired, "the watch never fired: no watchdog thread was started again"
    finally:
        threading.settrace(None)
        sys.settrace(None)
