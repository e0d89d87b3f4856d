"""A late answer through a TLS proxy to an https service (TLS in TLS: the connection's `sock` is urllib3's
SSLTransport) is bounded, and leaves the watchdog alive (found by the issue-12 review: the shutdown of an
SSLTransport raised TypeError and ended the process's one watchdog thread, and with it every answer's bound).

Run in a child process: the watchdog is one per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import contextlib, json, os, socket, ssl, sys, tempfile, threading, time
from pathlib import Path
from tests.loopback_http import accept_each, self_signed

cert, key = self_signed(Path(tempfile.mkdtemp()))
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)

listeners = contextlib.ExitStack()  # open until the child ends

def listen(handler):
    return listeners.enter_context(accept_each(handler))

def service(raw):  # TLS; /slow trickles a 30-byte body over 6 s
    try:
        connection = context.wrap_socket(raw, server_side=True)
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                data = connection.recv(65536)
                if not data:
                    return
                buffered += data
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            if b"/slow" in head:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n")
                for _ in range(30):
                    time.sleep(0.2)
                    connection.sendall(b"x")
            else:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    except (OSError, ssl.SSLError):
        return

def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    for end in (source, sink):
        try:
            end.close()
        except OSError:
            pass

def tls_proxy(raw):  # an HTTPS proxy: TLS to the proxy, CONNECT, then the service's own TLS inside
    try:
        connection = context.wrap_socket(raw, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            head += connection.recv(65536)
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(upstream, connection), daemon=True).start()
        pipe(connection, upstream)
    except (OSError, ssl.SSLError):
        return

service_port, proxy_port = listen(service), listen(tls_proxy)
os.environ["HTTPS_PROXY"] = f"https://127.0.0.1:{proxy_port}"
os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
from shared import http_transport
endpoint = http_transport.HttpEndpoint(f"https://127.0.0.1:{service_port}", 2, {})
endpoint.request("GET", "/fast", timeout=(2.0, 1.0))
started = time.monotonic()
try:
    endpoint.request("GET", "/slow", timeout=(2.0, 1.0))
    slow = "answered"
except http_transport.TransportError as error:
    slow = type(error).__name__
slow_seconds = time.monotonic() - started
for _ in range(200):
    endpoint.request("GET", "/fast", timeout=(2.0, 1.0))
time.sleep(1.5)  # every one of those 200 deadlines (1 s) has passed: a live watchdog has dropped them
print(json.dumps({"slow": slow, "slow_seconds": slow_seconds, "alive": http_transport._WATCHDOG._thread.is_alive(),
                  "heap": len(http_transport._WATCHDOG._due)}))
"""


def test_a_late_answer_through_an_https_proxy_is_bounded_and_leaves_the_watchdog_alive() -> None:
    environment = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    environment["PYTHONPATH"] = str(ROOT)
    child = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    problems = []
    if seen["slow_seconds"] > 2.0:
        problems.append(f"the late answer (read timeout 1 s) was waited for {seen['slow_seconds']:.1f} s ({seen['slow']})")
    if not seen["alive"]:
        problems.append("the watchdog thread is dead: no answer in this process is bounded any more")
    if seen["heap"] > 5:
        problems.append(f"{seen['heap']} expired watches are still in the heap (it only grows now)")
    tail = [line for line in child.stderr.splitlines() if "Error" in line][-1:]
    assert not problems, "; ".join(problems) + f"; child's stderr: {tail}"
