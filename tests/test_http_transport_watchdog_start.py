"""A refused start of the watchdog thread is tried again (found by the issue-12 review: one refused start
left the process without a watchdog for good). The refused head goes unbounded; its request is not failed.
Run on a fresh _Watchdog (the module's own is left alone).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared import http_transport

ROOT = Path(__file__).resolve().parent.parent


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


SIGNAL_HANDLER_SENDS = r"""
import signal, socket, time
from shared import http_transport
watchdog = http_transport._Watchdog()
ours, theirs = socket.socketpair()
def handler(signum, frame):
    watchdog.disarm(watchdog.arm(time.monotonic() + 5, ours))  # a request sent from the handler
signal.signal(signal.SIGALRM, handler)
end = time.monotonic() + 2
while time.monotonic() < end:
    if signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        signal.setitimer(signal.ITIMER_REAL, 0.0003)  # one shot at a time
    watchdog.disarm(watchdog.arm(time.monotonic() + 5, ours))
signal.setitimer(signal.ITIMER_REAL, 0)
print("done")
"""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="interval timers are POSIX")
def test_a_request_from_a_signal_handler_does_not_deadlock_on_the_watchdog_lock() -> None:
    """A signal handler runs on a thread that may hold the lock (inside arm or disarm): the lock is reentrant
    (the review's proof against a plain Lock). Run in a child: a deadlock is killed, not waited for."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", SIGNAL_HANDLER_SENDS], cwd=ROOT, capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the thread deadlocked on the watchdog's lock, re-entered from a signal handler")
    assert result.stdout.strip() == "done", result.stderr[-2000:]


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="interval timers are POSIX")
def test_a_watch_armed_by_a_signal_handler_while_done_watches_are_dropped_still_fires() -> None:
    """Found by the fifth review: arm dropped done watches with a list comprehension, at whose backward jumps a
    signal handler runs; a watch the handler armed then was lost with the filtered copy (289 of 5,935, never
    fired). The watchdog's own thread, which no signal handler runs on, drops them now."""
    watchdog = http_transport._Watchdog()
    ours, theirs = socket.socketpair()
    far = time.monotonic() + 600
    held = [watchdog.arm(far + i, ours) for i in range(3000)]  # live: done ones are dropped past 12,000 entries
    from_handler: list[http_transport._Watch] = []

    def handler(signum: int, frame: object) -> None:  # a signal handler that sends a request
        from_handler.append(watchdog.arm(time.monotonic() + 0.3, ours))

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
    try:
        stop = time.monotonic() + 2.0
        while time.monotonic() < stop:
            watchdog.disarm(watchdog.arm(far + 1000, ours))  # done at once: the heap fills with done watches
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(1.0)
    lost = sum(not watch.fired for watch in from_handler)
    for watch in held:
        watchdog.disarm(watch)
    ours.close()
    theirs.close()
    assert from_handler
    assert not lost, f"{lost} of {len(from_handler)} watches armed from a signal handler never fired"
