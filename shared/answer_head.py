"""An answer's head read as HTTP, not as mail: http.client's response, without the email package.

http.client hands every answer's header lines to email.parser, a MIME parser, and urllib3 then reads
each value back through the email policy: 12% of a booking's CPU in py-spy's samples, for heads that
are one "name: value" field a line (RFC 9112 section 5). Read here, a booking takes about 6% less CPU
(paired blocks of 200 bookings, issue 12, docs/performance.md). PlainHeadResponse reads the fields
into the same HTTPMessage, as the email parser would have them, and frames the body as http.client does.

It is stricter where the email parser guesses. A line that is not a field (no colon, a name with a
space in it, an empty name, a fold before any field) makes the email parser take the rest of the
head for a body, so the framing headers after it are lost; a CR inside a line makes it split the
line in two; a first line "From ..." it passes over as a mail envelope line. Here each is an
HTTPException (urllib3's ProtocolError): an answer the bridge cannot read whole is not read half.
NUL in a value is refused too (RFC 9110 section 5.5). An obsolete line fold is kept as the email
parser keeps it, with CRLF, and urllib3 makes one space of it.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from email.policy import Compat32
from http import HTTPStatus
from typing import BinaryIO

# http.client's own bounds on a head: a line's length, and its lines with the empty one.
MAX_LINE_BYTES = 65536
MAX_HEADER_LINES = 100
# What the email parser takes for a field name: printable ASCII but the colon.
_NAME_CHARACTERS = frozenset(range(0x21, 0x7F)) - {ord(":")}
_NO_BODY = (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)


class _AsRead(Compat32):
    """Compat32 hands each value out through a check for surrogates, which only bytes decoded with
    surrogateescape carry; these were decoded from ISO-8859-1 and carry none, so they come out as read."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_AS_READ = _AsRead()


class PlainHeadResponse(http.client.HTTPResponse):
    """http.client's response with its head read by _read_fields; everything after the head is http.client's."""

    def begin(self) -> None:
        if self.headers is not None:  # already begun
            return
        while True:
            version, status, reason = self._read_status()
            if status != HTTPStatus.CONTINUE:
                break
            for _line in _head_lines(self.fp):  # a 100 Continue's head: passed over unread, as http.client does
                pass
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _read_fields(self.fp)
        # The body's framing, as http.client frames it: chunked, else Content-Length, else until the close.
        self.chunked = (self.headers.get("transfer-encoding") or "").lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None if self.chunked else _length(self.headers.get("content-length"))
        if status in _NO_BODY or status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _read_fields(fp: BinaryIO) -> http.client.HTTPMessage:
    """The header fields up to the empty line (or the end of stream), in order, duplicates kept."""
    message = http.client.HTTPMessage(policy=_AS_READ)
    fields: list[list[str]] = []
    for line in _head_lines(fp):
        text = line.removesuffix(b"\n").removesuffix(b"\r")  # its line ending: CRLF, LF, or CR at the end of stream
        if b"\r" in text or b"\0" in text:
            raise http.client.HTTPException("a header line holds a CR or NUL")
        if text[:1] in (b" ", b"\t"):
            if not fields:
                raise http.client.HTTPException("the first header line is a fold")
            fields[-1][1] += "\r\n" + text.decode("iso-8859-1")  # as the email parser joins it, whatever the line ending
            continue
        name, colon, value = text.partition(b":")
        if not colon or not name or not _NAME_CHARACTERS.issuperset(name):
            raise http.client.HTTPException("a header line is not a field")
        fields.append([name.decode("ascii"), value.decode("iso-8859-1").lstrip(" \t")])
    for field_name, field_value in fields:
        message[field_name] = field_value
    return message


def _head_lines(fp: BinaryIO) -> Iterator[bytes]:
    """A head's lines up to the empty one (or the end of stream), within http.client's bounds (which count the empty line)."""
    for _ in range(MAX_HEADER_LINES):
        line = fp.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return
        yield line
    raise http.client.HTTPException(f"got more than {MAX_HEADER_LINES} headers")


def _length(value: str | None) -> int | None:
    """Content-Length as http.client takes it: a non-negative integer, else unknown."""
    if not value:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None
