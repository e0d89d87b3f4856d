"""Saying what a command waits for when a wait outlasts what a person takes for a hang.

The Azure SDKs retry a connection that is refused or unanswered, with back-off, before they raise:
the error line comes only at the end, and until then a terminal that shows nothing looks hung.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TextIO

# Long enough that a wait that goes well says nothing; short next to the SDKs' retries.
NOTICE_AFTER_SECONDS = 2.0


@contextlib.contextmanager
def said_if_slow(err: TextIO, what: str, *, after: float = NOTICE_AFTER_SECONDS) -> Iterator[None]:
    """While the block runs, once it has lasted `after` seconds, write `waiting for <what>` to `err`, once.

    Nothing is written after the block has ended, so the notice never follows the outcome it was waiting for."""
    lock = threading.Lock()
    ended = False

    def notice() -> None:
        with lock:
            if not ended:
                err.write(f"waiting for {what}\n")
                err.flush()

    timer = threading.Timer(after, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            ended = True
        timer.cancel()
