"""The meetings that exist, keyed as Graph keys them: (tenant, organizer, externalId), and by meeting id.

createOrGet's contract is "create once, then always return that same meeting unchanged",
including when several calls for one key race; PATCH and DELETE address a meeting by id and
its organizer. One lock around every read-check-write gives each of them atomically: one
racing createOrGet creates (201) and the others get that meeting (200); an update never lands
on a deleted meeting; after a delete the key is free and the next createOrGet makes a new meeting.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MeetingOwner = tuple[str, str]
MeetingKey = tuple[str, str, str]


def meeting_owner(tenant_id: str, organizer_id: str) -> MeetingOwner:
    """Object ids are case-insensitive GUIDs."""
    return tenant_id.lower(), organizer_id.lower()


def meeting_key(tenant_id: str, organizer_id: str, external_id: str) -> MeetingKey:
    """Object ids are case-insensitive GUIDs; externalId is compared exactly."""
    return (*meeting_owner(tenant_id, organizer_id), external_id)


@dataclass
class _Stored:
    key: MeetingKey
    document: dict[str, Any]


class MeetingStore:
    """Thread-safe store; callers always get copies, so nothing outside can change a stored meeting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, _Stored] = {}  # in creation order
        self._id_by_key: dict[MeetingKey, str] = {}
        self._deleted: list[dict[str, Any]] = []

    def create_or_get(self, key: MeetingKey, create: Callable[[], dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """Return (created, meeting): `create` runs only when no live meeting has this key."""
        with self._lock:
            meeting_id = self._id_by_key.get(key)
            if meeting_id is not None:
                return False, copy.deepcopy(self._by_id[meeting_id].document)
            document = create()
            if document["id"] in self._by_id:
                raise RuntimeError(f"meeting id {document['id']!r} is already in use")
            self._by_id[document["id"]] = _Stored(key, document)
            self._id_by_key[key] = document["id"]
            return True, copy.deepcopy(document)

    def get(self, key: MeetingKey) -> dict[str, Any] | None:
        """The live meeting for `key`, or None."""
        with self._lock:
            meeting_id = self._id_by_key.get(key)
            return copy.deepcopy(self._by_id[meeting_id].document) if meeting_id is not None else None

    def find(self, owner: MeetingOwner, meeting_id: str) -> dict[str, Any] | None:
        """The live meeting with this id, if `owner` organizes it; otherwise None."""
        with self._lock:
            stored = self._owned(owner, meeting_id)
            return copy.deepcopy(stored.document) if stored is not None else None

    def update(self, owner: MeetingOwner, meeting_id: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Apply `change` to a copy of the meeting and store it; None (nothing changed) when there is no such meeting.

        If `change` raises, the stored meeting is left exactly as it was.
        """
        with self._lock:
            stored = self._owned(owner, meeting_id)
            if stored is None:
                return None
            updated = copy.deepcopy(stored.document)
            change(updated)
            stored.document = updated
            return copy.deepcopy(updated)

    def delete(self, owner: MeetingOwner, meeting_id: str) -> dict[str, Any] | None:
        """Remove the meeting and free its key; the removed meeting, or None when there was none."""
        with self._lock:
            stored = self._owned(owner, meeting_id)
            if stored is None:
                return None
            del self._by_id[meeting_id]
            del self._id_by_key[stored.key]
            self._deleted.append(stored.document)
            return copy.deepcopy(stored.document)

    def all(self) -> list[dict[str, Any]]:
        """Every live meeting, in creation order."""
        with self._lock:
            return copy.deepcopy([stored.document for stored in self._by_id.values()])

    def deleted(self) -> list[dict[str, Any]]:
        """Every deleted meeting as it was when deleted, oldest deletion first."""
        with self._lock:
            return copy.deepcopy(self._deleted)

    def clear(self) -> None:
        """Forget every meeting, live or deleted."""
        with self._lock:
            self._by_id.clear()
            self._id_by_key.clear()
            self._deleted.clear()

    def _owned(self, owner: MeetingOwner, meeting_id: str) -> _Stored | None:
        stored = self._by_id.get(meeting_id)
        return stored if stored is not None and stored.key[:2] == owner else None
