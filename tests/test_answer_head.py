"""shared.answer_head: an answer's head read as HTTP reads the same as http.client + urllib3 read it, and a head
they would read only in part is refused.

The property compares the two readings on generated heads: status, reason, version, the fields as urllib3
hands them on, and the body each frames (chunked, Content-Length, until the close, none for HEAD, 204
and 304, after a 100 Continue). The refusals are named one by one, with what the email parser did.
"""

from __future__ import annotations

import http.client
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.connection import _normalize_header_values

from shared.answer_head import MAX_HEADER_LINES, MAX_LINE_BYTES, PlainHeadResponse
from shared.http_transport import TransportError
from tests.loopback_http import answered_with, requested, scripted_server


class _Socket:
    """What an HTTPResponse reads from: the answer's bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self._data)


def _reading(response_class: type[http.client.HTTPResponse], answer: bytes, method: str) -> tuple[Any, ...]:
    """What a client sees of the answer: its status line, its fields as urllib3 passes them on, and its body."""
    response = response_class(_Socket(answer), method=method)  # type: ignore[arg-type]
    response.begin()
    fields = _normalize_header_values(response.msg)
    try:
        body: Any = response.read()
    except http.client.HTTPException as error:
        body = type(error)
    return response.status, response.reason, response.version, fields, response.will_close, body


_FRAMING = st.sampled_from(
    [
        ("Content-Length", st.sampled_from(["0", "5", "12", "-1", "abc", " 7", "5 ", ""])),
        ("Transfer-Encoding", st.sampled_from(["chunked", "Chunked", "gzip, chunked", "identity", "chunked "])),
        ("Connection", st.sampled_from(["close", "keep-alive", "Keep-Alive", "upgrade, close", ""])),
        ("Keep-Alive", st.just("timeout=5")),
        ("Proxy-Connection", st.just("keep-alive")),
    ]
)
_NAME = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"), min_size=1, max_size=12)
# A value's text: ISO-8859-1 without CR, LF and NUL (a refusal of its own, below), with white space anywhere.
_VALUE = st.text(st.characters(min_codepoint=0x01, max_codepoint=0xFF, blacklist_characters="\r\n\0"), max_size=20)


@st.composite
def _fields(draw: st.DrawFn) -> list[tuple[str, str, list[str]]]:
    fields = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            name, values = draw(_FRAMING)
            value = draw(values)
        else:
            name, value = draw(_NAME), draw(_VALUE)
        folds = draw(st.lists(_VALUE.map(lambda text: " " + text), max_size=2))
        fields.append((name, draw(st.sampled_from(["", " ", "\t", "  "])) + value, folds))
    return fields


@st.composite
def _answers(draw: st.DrawFn) -> tuple[bytes, str]:
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 304, 404, 412, 429, 500]))
    interim = draw(st.sampled_from(["X-Early: 1\r\n", "a line that is no field\r\n", ""]))  # passed over unread
    head = f"{version} 100 Continue\r\n{interim}\r\n" if draw(st.booleans()) else ""
    head += f"{version} {status} {draw(st.sampled_from(['OK', 'Created', '', 'A  reason ']))}\r\n"
    for name, value, folds in draw(_fields()):
        head += f"{name}:{value}\r\n" + "".join(f"{fold}\r\n" for fold in folds)
    method = draw(st.sampled_from(["GET", "POST", "HEAD"]))
    if draw(st.booleans()):  # a head cut by the end of stream: no empty line, no body
        return head.encode("iso-8859-1"), method
    body = draw(st.sampled_from([b"", b"hello", b"5\r\nhello\r\n0\r\n\r\n", b"0\r\n\r\n", b'{"id": "m-1"}']))
    return (head + "\r\n").encode("iso-8859-1") + body, method


@given(_answers())
def test_a_head_reads_as_http_client_and_urllib3_read_it(answer: tuple[bytes, str]) -> None:
    data, method = answer
    assert _reading(PlainHeadResponse, data, method) == _reading(http.client.HTTPResponse, data, method)


@pytest.mark.usefixtures("no_transport_settings_from_the_machine")
def test_an_obsolete_fold_reaches_the_caller_as_one_space_with_lf_line_endings_too() -> None:
    """urllib3 made one space of a CRLF fold in the email parser's value and left a bare-LF one as it was."""
    answer = b"HTTP/1.1 200 OK\nX-Long: first  \n\t second\nContent-Length: 2\n\nok"
    with scripted_server(answered_with(answer)) as port:
        reply = requested(f"http://127.0.0.1:{port}", "/", timeout=(1.0, 1.0))
    assert (reply.headers["X-Long"], reply.body) == ("first second", b"ok")


REFUSED = {
    # head after the status line: what the email parser made of it
    "a line with no colon (the rest of the head became a body)": b"No colon here\r\nContent-Length: 2\r\n\r\nok",
    "a name with a space (the rest became a body)": b"Content Length: 2\r\n\r\nok",
    "a space before the colon (the rest became a body)": b"Content-Length : 2\r\n\r\nok",
    "an empty name (a field named '')": b": 2\r\nContent-Length: 2\r\n\r\nok",
    "a fold before any field (the rest became a body)": b" folded\r\nContent-Length: 2\r\n\r\nok",
    "a bare CR inside a line (split in two fields)": b"X-Note: a\rContent-Length: 2\r\n\r\nok",
    "a CR before the line's CRLF (taken for the end of the head)": b"X-Note: a\r\r\nContent-Length: 2\r\n\r\nok",
    "a NUL in a value": b"X-Note: a\0b\r\nContent-Length: 2\r\n\r\nok",
    "a first line 'From ...' (passed over as a mail envelope line)": b"From gateway\r\nContent-Length: 2\r\n\r\nok",
    "a line longer than http.client's bound": b"X-Long: " + b"a" * MAX_LINE_BYTES + b"\r\n\r\n",
    "as many fields as http.client's bound (the empty line counts)": b"X-Many: 1\r\n" * MAX_HEADER_LINES + b"\r\n",
    "as many lines in a 100 Continue's head": b"X-Interim: 1\r\n" * MAX_HEADER_LINES + b"\r\nHTTP/1.1 200 OK\r\n\r\n",
}


@pytest.mark.parametrize("head", REFUSED.values(), ids=REFUSED.keys())
def test_a_head_that_would_be_read_only_in_part_is_refused(head: bytes) -> None:
    status = b"HTTP/1.1 100 Continue\r\n" if head.startswith(b"X-Interim") else b"HTTP/1.1 200 OK\r\n"
    response = PlainHeadResponse(_Socket(status + head), method="GET")  # type: ignore[arg-type]
    with pytest.raises(http.client.HTTPException):
        response.begin()


READ_AS_HTTP_CLIENT_READS = {
    # found by the sixth issue-12 review
    "one field fewer than the bound": b"HTTP/1.1 200 OK\r\n"
    + b"X-Many: 1\r\n" * (MAX_HEADER_LINES - 2)
    + b"Content-Length: 2\r\n\r\nok",
    "a head cut by the end of stream after a CR": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-Id: 1\r",
    "a 100 Continue's head with a line that is no field (passed over unread)": (
        b"HTTP/1.1 100 Continue\r\nProxy note\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ),
}


@pytest.mark.parametrize("answer", READ_AS_HTTP_CLIENT_READS.values(), ids=READ_AS_HTTP_CLIENT_READS.keys())
def test_an_edge_of_what_http_client_reads_reads_the_same(answer: bytes) -> None:
    assert _reading(PlainHeadResponse, answer, "POST") == _reading(http.client.HTTPResponse, answer, "POST")


@pytest.mark.usefixtures("no_transport_settings_from_the_machine")
def test_a_refused_head_reaches_the_caller_as_a_transport_error_over_a_real_connection() -> None:
    """urllib3 makes ProtocolError of the HTTPException; the callers take it for an answer that did not come."""
    answer = b"HTTP/1.1 201 Created\r\nX-Note: a\rContent-Length: 2\r\n\r\nok"
    with scripted_server(answered_with(answer)) as port, pytest.raises(TransportError):
        requested(f"http://127.0.0.1:{port}", "/meetings", timeout=(1.0, 1.0), method="POST", body=b"{}")
