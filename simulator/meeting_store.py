"""The meetings that exist, keyed as Graph keys them: (tenant, organizer, externalId).

createOrGet's contract is "create once, then always return that same meeting unchanged",
including when several calls for one key race. One lock around check-and-insert gives
exactly that: one caller creates (201), every other caller gets the stored meeting (200).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

MeetingKey = tuple[str, str, str]


def meeting_key(tenant_id: str, organizer_id: str, external_id: str) -> MeetingKey:
    """Object ids are case-insensitive GUIDs; externalId is compared exactly."""
    return tenant_id.lower(), organizer_id.lower(), external_id


class MeetingStore:
    """Thread-safe store; callers always get copies, so nothing outside can change a stored meeting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meetings: dict[MeetingKey, dict[str, Any]] = {}

    def create_or_get(self, key: MeetingKey, create: Callable[[], dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """Return (created, meeting): `create` runs only when no meeting has this key yet."""
        with self._lock:
            meeting = self._meetings.get(key)
            created = meeting is None
            if meeting is None:
                meeting = self._meetings[key] = create()
            return created, copy.deepcopy(meeting)

    def get(self, key: MeetingKey) -> dict[str, Any] | None:
        """The stored meeting for `key`, or None."""
        with self._lock:
            meeting = self._meetings.get(key)
            return copy.deepcopy(meeting) if meeting is not None else None

    def all(self) -> list[dict[str, Any]]:
        """Every stored meeting, in creation order."""
        with self._lock:
            return copy.deepcopy(list(self._meetings.values()))

    def clear(self) -> None:
        """Forget every meeting."""
        with self._lock:
            self._meetings.clear()
