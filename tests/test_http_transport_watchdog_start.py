"""A refused start of the watchdog thread is tried again (found by the issue-12 review: one refused start
left the process without a watchdog for good). The refused head goes unbounded; its request is not failed.
Run on a fresh _Watchdog (the module's own is left alone).
"""

from __future__ import annotations

import os
import signal
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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_bounds_a_head_with_a_watchdog_of_its_own() -> None:
    """The child has none of the parent's threads: its watchdog must start anew, not be taken as running,
    and not wait for a lock the parent's watchdog thread held when the process forked."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        http_transport._WATCHDOG.disarm(http_transport._WATCHDOG.arm(time.monotonic() + 60, ours))  # the parent's runs
        child = os.fork()
        if child == 0:  # pragma: no cover (the child reports through its exit code)
            watch = http_transport._WATCHDOG.arm(time.monotonic() + 0.1, ours)
            time.sleep(1.0)
            os._exit(0 if watch.fired else 1)
        for _ in range(100):  # 10 s: a child stuck on a lock its parent's watchdog held is killed, not waited for
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the child hung arming a watch: the lock was copied held from its parent")
    assert os.waitstatus_to_exitcode(status) == 0, "the child's watch never fired: its watchdog thread was not started"
