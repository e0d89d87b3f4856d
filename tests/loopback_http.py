"""Servers on loopback for the transport tests: a request-line recorder (served plain and over TLS by the
`recorder` and `tls_recorder` fixtures in conftest.py), and raw scripted servers that answer byte by byte as a
hostile or broken service would.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.http_transport import HttpEndpoint, HttpResponse

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy")
# An answer to one request, written on the connection; True closes the connection after it.
Answer = Callable[[socket.socket], bool | None]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Recorder(BaseHTTPRequestHandler):
    """Answers 200 with the request line it was sent, so a test sees the request target a client chose."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.requestline.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "cert.pem", directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


@contextlib.contextmanager
def accept_each(serve: Callable[[socket.socket], None], backlog: int = 128) -> Iterator[int]:
    """A listener on loopback that hands each connection to `serve` on a thread of its own; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def read_request(connection: socket.socket, buffered: bytes) -> tuple[bytes, bytes] | None:
    """The next request's head (its body, by Content-Length, read and dropped) and what follows; None at its end."""
    try:
        while b"\r\n\r\n" not in buffered:
            data = connection.recv(65536)
            if not data:
                return None
            buffered += data
        head, _, buffered = buffered.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        needed = int(length.group(1)) if length else 0
        while len(buffered) < needed:
            data = connection.recv(65536)
            if not data:
                return None
            buffered += data
    except OSError:
        return None
    return head, buffered[needed:]


def requested(
    base_url: str, path: str, timeout: tuple[float, float] = (10.0, 10.0), *, method: str = "GET", body: bytes | None = None
) -> HttpResponse:
    """One request through a fresh shared.http_transport endpoint, closed after it (it reads the environment when made).

    The default timeouts are for a request expected to succeed: generous, so a loaded machine's slow TLS handshake
    is not taken for a failure."""
    endpoint = HttpEndpoint(base_url, 1, {}, service="the service")
    try:
        return endpoint.request(method, path, body=body, timeout=timeout)
    finally:
        endpoint.close()


def answered_with(data: bytes) -> Answer:
    """An answer that writes `data` and closes the connection."""
    return lambda connection: connection.sendall(data) or True


@contextlib.contextmanager
def scripted_server(*answers: Answer) -> Iterator[int]:
    """A keep-alive HTTP/1.1 server: the n-th request (over all connections) gets answers[n] (the last repeats)."""
    count = [0]
    lock = threading.Lock()

    def serve(connection: socket.socket) -> None:
        buffered = b""
        with connection:
            while (request := read_request(connection, buffered)) is not None:
                buffered = request[1]
                with lock:
                    answer = answers[min(count[0], len(answers) - 1)]
                    count[0] += 1
                try:
                    if answer(connection):
                        return
                except OSError:
                    return

    with accept_each(serve) as port:
        yield port


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def relaying_proxy() -> Iterator[int]:
    """An HTTP proxy on loopback, as a corporate one relays: CONNECT opens a tunnel (the 200 first), and a request
    in absolute form is passed on in origin form. Either way the connection then only pipes bytes, so whatever
    the service does (answers late, drops the connection) reaches the client as it happened."""

    def serve(client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            buffered = b""
            while b"\r\n\r\n" not in buffered:
                data = client.recv(65536)
                if not data:
                    return
                buffered += data
            head, _, rest = buffered.partition(b"\r\n\r\n")
            request_line, _, fields = head.partition(b"\r\n")
            method, target, version = request_line.split(b" ", 2)
            if method == b"CONNECT":
                host, _, port = target.decode().rpartition(":")
                upstream = socket.create_connection((host, int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                split = re.fullmatch(rb"http://([^/:]+):?(\d*)(/.*)?", target)
                assert split is not None, target
                upstream = socket.create_connection((split.group(1).decode(), int(split.group(2) or 80)))
                rest = b"%s %s %s\r\n%s\r\n\r\n%s" % (method, split.group(3) or b"/", version, fields, rest)
            with upstream:
                threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
                if rest:
                    upstream.sendall(rest)
                _pipe(client, upstream)

    with accept_each(serve) as port:
        yield port
