"""A refused start of the watchdog thread is tried again (found by the issue-12 review: one refused start
left the process without a watchdog for good). The refused head goes unbounded; its request is not failed.
Run on a fresh _Watchdog (the module's own is left alone).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from shared import http_transport


def test_a_failed_start_of_the_watchdog_thread_is_retried_by_the_next_arm(monkeypatch: pytest.MonkeyPatch) -> None:
    watchdog = http_transport._Watchdog()
    start = threading.Thread.start
    refused = []

    def start_refused_once(thread: threading.Thread) -> None:
        if thread.name == "http-answer-watchdog" and not refused:
            refused.append(thread)
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_refused_once)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        # The process is briefly out of threads: this head goes unbounded, its request is not failed.
        watchdog.arm(time.monotonic() + 0.1, ours)
        watch = watchdog.arm(time.monotonic() + 0.2, ours)  # threads can be started again
        time.sleep(1.0)
        assert watch.fired, (
            f"the watch never fired: the watchdog thread is {watchdog._thread!r} and "
            f"{len(watchdog._due)} watches wait in its heap for ever"
        )
