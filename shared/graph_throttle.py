"""Graph's limits as every call of this instance meets them, so that instances that never talk to each other still
settle below the limits they share.

Graph throttles per app: a rate for the whole tenant, and Outlook's 4 concurrent requests per app and mailbox
(Graph throttling limits, Outlook service). Every instance of the bridge shares them, yet sees only its own 429s.
So each instance reacts to its own 429s in the way that, summed over instances, settles below the limit: additive
increase and multiplicative decrease, the way TCP senders share a link without meeting.

- The app (every request): a 429 closes it to every call of this instance for its Retry-After (bounded), stretched
  by a random 0-50% so that instances and threads do not come back in step; it then paces its requests at 0.7
  times the rate it was sending at, slowed so again on each 429 to a request sent at the current pace, and two
  requests a second faster for each second without one.
- A mailbox (a request on /users/{id}/events): a window of requests this instance may have in progress, at most
  Outlook's 4. It starts at one request and grows by one with each success (slow start, as TCP's), so that
  instances that start a burst together do not send 4 each at once. A 429 ends that growth and halves the window
  (once for the requests sent at that window; never below one). When the throttled request was the instance's only
  one in progress on that mailbox, the instance holds none of its slots: its next request on the mailbox waits out
  the Retry-After too, instead of each of its invocations meeting the same full mailbox in turn. Otherwise its
  requests in progress still hold slots, and the narrower window alone keeps it from sending more. After a 429, each
  success widens the window by a fraction, a whole request after about MAILBOX_GROWTH rounds at that width (a round:
  as many successes as the window is wide), so that instances sharing a mailbox probe for a free slot rarely. A
  success with more of the instance's requests in progress than it held when the 429 came shows that a slot came
  free (another instance finished, or its window narrowed), and growth is fast again until the next 429.

- A 503 is left to the retry of the request it answered (shared.retry_policy honours its Retry-After): it says one of
  Graph's services is overloaded, not that the app sends past its share, and closing every call of the instance for
  it would also hold back the undo of what a delivery made, which has to run while the record's next delivery waits.

A call that could not be sent before its invocation's deadline is not waited for: acquire() says how long it would
have waited, and the caller answers it as throttled, so the failure policy re-enqueues the booking rather than
holding its session. A booking that cannot be re-enqueued waits the rest of its budget out with wait_out() before
it is redelivered, so that each of its deliveries spends a budget's worth of the pause: the longest pause
(LONGEST_PAUSE_SECONDS stretched by half) is shorter than the queue's deliveries times the budget, so the pause
ends before its deliveries do.

The scopes of at most MAILBOX_SCOPES mailboxes are kept: past that, the least recently used scope with no request in
progress and no hold is forgotten (its mailbox starts again from one request, as a new one does).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from shared.graph_responses import parse_retry_after

# Outlook's concurrent requests per app and mailbox (Graph throttling limits, Outlook service).
MAILBOX_CONCURRENCY = 4
# Rounds of successes at a window's width that widen it by one request.
MAILBOX_GROWTH = 32
# The longest Retry-After that closes a scope: one throttled call must not stop an instance for long.
LONGEST_PAUSE_SECONDS = 60.0
# Additive increase, in requests a second per second without a 429; the multiplicative decrease on a 429 (as CUBIC's,
# gentler than halving: a burst lasts seconds, too short to recover from deep cuts); and the slowest pace.
RATE_STEP_PER_SECOND = 2.0
RATE_DECREASE = 0.7
SLOWEST_RATE = 0.2
# The mailboxes whose scopes are kept, beyond those with a request in progress or a hold (about 250 bytes each).
MAILBOX_SCOPES = 1024
_MAILBOX = re.compile(r"/users/(?P<user>[^/?]+)/events(?:[/?]|$)")
_TOO_MANY_REQUESTS = 429


@dataclass(slots=True)
class _Scope:
    window: float | None = None  # a mailbox's requests in progress allowed (its whole part); None: the app, unbounded
    slow_start: bool = False  # a mailbox's window grows by a whole request a success, until a 429
    held_when_full: int = 0  # a mailbox's other requests of the instance in progress when a 429 last narrowed it
    rate: float | None = None  # requests a second; None: unpaced
    next_send: float = 0.0
    not_before: float = 0.0
    slowed_at: float = 0.0
    raised_at: float = 0.0
    in_progress: int = 0
    sent: deque[float] | None = None  # the app's send times within the last second; None: a mailbox, not counted

    def full(self) -> bool:
        return self.window is not None and self.in_progress >= int(self.window)

    def ready_at(self, now: float) -> float:
        return max(now, self.not_before, self.next_send)


class Permit:
    """Leave to send one request; say what Graph answered with answered(), and leave the block to release it."""

    def __init__(self, throttle: GraphThrottle | None, scopes: list[_Scope], sent_at: float, level: int) -> None:
        self._throttle = throttle
        self._scopes = scopes
        self._sent_at = sent_at
        self._level = level

    @classmethod
    def unthrottled(cls) -> Permit:
        """The permit of a client without a throttle: nothing waits, nothing is counted."""
        return cls(None, [], 0.0, 0)

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._throttle is not None:
            self._throttle._release(self._scopes)

    def answered(self, status: int, retry_after: str | None) -> None:
        if self._throttle is not None:
            self._throttle._answered(self._scopes, self._sent_at, self._level, status, parse_retry_after(retry_after))


class GraphThrottle:
    """One per process, shared by every invocation thread."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = random.random,
        wait: Callable[[threading.Condition, float], object] = threading.Condition.wait,
    ) -> None:
        """`wait` waits out a pause on the condition for the seconds given (a test passes one that moves its clock)."""
        self._clock = clock
        self._spread = spread
        self._wait = wait
        self._condition = threading.Condition()
        self._app = _Scope(sent=deque())
        self._mailboxes: dict[str, _Scope] = {}

    def acquire(self, path: str, within: float) -> Permit | float:
        """Wait until the request may be sent and take a permit; or, when it could not be sent within `within`
        seconds (what is left of the invocation's budget), the seconds it would have waited, at once. A request that
        nothing holds back is sent at once, whatever `within` is: only a wait the throttle imposes is reported."""
        with self._condition:
            deadline = self._clock() + within
            scopes = [self._app, *self._mailbox_scope(path)]
            while True:
                now = self._clock()
                ready_at = max(scope.ready_at(now) for scope in scopes)
                if ready_at > now and ready_at > deadline:
                    return ready_at - now
                if ready_at > now:
                    self._wait(self._condition, ready_at - now)
                    continue
                if any(scope.full() for scope in scopes):
                    if not self._condition.wait(deadline - now):
                        return 1.0 + self._spread()
                    continue
                for scope in scopes:
                    scope.in_progress += 1
                    if scope.sent is not None:
                        scope.sent.append(now)
                    if scope.rate:
                        scope.next_send = max(now, scope.next_send) + 1 / scope.rate
                return Permit(self, scopes, now, scopes[-1].in_progress)

    def wait_out(self, seconds: float) -> None:
        """Wait `seconds` on the throttle's clock: a call it did not send, whose booking cannot be re-enqueued, spends
        the rest of its invocation's budget on the pause here rather than a delivery of the booking at once."""
        with self._condition:
            end = self._clock() + seconds
            while (now := self._clock()) < end:
                self._wait(self._condition, end - now)

    def _mailbox_scope(self, path: str) -> list[_Scope]:
        match = _MAILBOX.match(path)
        if match is None:
            return []
        user = match["user"].lower()
        scope = self._mailboxes.pop(user, None)  # put back last: the dict runs from least to most recently used
        if scope is None:
            scope = _Scope(window=1.0, slow_start=True)
            if len(self._mailboxes) >= MAILBOX_SCOPES:
                self._forget_an_idle_mailbox()
        self._mailboxes[user] = scope
        return [scope]

    def _forget_an_idle_mailbox(self) -> None:
        """Forget the least recently used mailbox scope that holds nothing: no request in progress, no hold."""
        now = self._clock()
        for user, scope in self._mailboxes.items():
            if scope.in_progress == 0 and scope.not_before <= now:
                del self._mailboxes[user]
                return

    def _release(self, scopes: list[_Scope]) -> None:
        with self._condition:
            for scope in scopes:
                scope.in_progress -= 1
            self._condition.notify_all()

    def _answered(self, scopes: list[_Scope], sent_at: float, level: int, status: int, retry_after: float | None) -> None:
        """A 429 narrows the scope the request was limited by (its mailbox, else the app); a success widens or speeds up
        every scope it went through."""
        with self._condition:
            now = self._clock()
            for scope in scopes:
                while scope.sent and scope.sent[0] < now - 1.0:
                    scope.sent.popleft()
            if status == _TOO_MANY_REQUESTS:
                scope = scopes[-1]
                if scope.window is not None:
                    self._narrow(scope, now, sent_at, retry_after)
                else:
                    self._slow_down(scope, now, sent_at, retry_after)
            elif 200 <= status < 300:
                for scope in scopes:
                    if scope.window is not None:
                        self._widen(scope, sent_at, level)
                    elif scope.rate:
                        scope.rate += RATE_STEP_PER_SECOND * (now - scope.raised_at)
                        scope.raised_at = now
            self._condition.notify_all()

    def _narrow(self, scope: _Scope, now: float, sent_at: float, retry_after: float | None) -> None:
        assert scope.window is not None
        if sent_at > scope.slowed_at:  # sent at the current window: that window is too wide
            scope.window = max(1.0, scope.window / 2)
            scope.slowed_at = now
            scope.held_when_full = scope.in_progress - 1
        scope.slow_start = False
        if scope.in_progress == 1:  # the throttled request is the instance's only one: it holds no slot of the mailbox
            scope.not_before = max(scope.not_before, now + self._pause(retry_after))

    def _widen(self, scope: _Scope, sent_at: float, level: int) -> None:
        """`level`: the instance's requests of the mailbox in progress when this one was sent, itself included."""
        assert scope.window is not None
        if sent_at > scope.slowed_at and level > scope.held_when_full:
            scope.slow_start = True
        step = 1.0 if scope.slow_start else 1 / (MAILBOX_GROWTH * scope.window)
        scope.window = min(float(MAILBOX_CONCURRENCY), scope.window + step)

    def _slow_down(self, scope: _Scope, now: float, sent_at: float, retry_after: float | None) -> None:
        scope.not_before = max(scope.not_before, now + self._pause(retry_after))
        if sent_at > scope.slowed_at:  # sent at the current pace: that pace is too fast
            current = scope.rate if scope.rate else max(1.0, float(len(scope.sent or ())))
            scope.rate = max(SLOWEST_RATE, current * RATE_DECREASE)
            scope.slowed_at = scope.raised_at = now
            scope.next_send = max(scope.next_send, now + 1 / scope.rate)

    def _pause(self, retry_after: float | None) -> float:
        """Graph's Retry-After (bounded), stretched by a random 0-50% so that instances do not come back in step."""
        pause = min(LONGEST_PAUSE_SECONDS, retry_after if retry_after is not None else 1.0)
        return pause * (1 + 0.5 * self._spread())
