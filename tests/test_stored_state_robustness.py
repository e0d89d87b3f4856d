"""A hostile value in the stored record state must not escape the closed error set.

The store is the bridge's own, but an entity edited by hand (an operator fixing a record), written by another
version, or corrupted is read on every delivery of the record: what is not the expected shape must come out as
StateStoreError (retryable, logged with its code) or be ignored, never as a ValueError/RecursionError that the
pipeline treats as a defect on every delivery until the record's bookings are dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import StateStoreError
from shared.record_state import TableRecordStateStore
from shared.table_client import TableReply


class _OneEntity:
    table = "state"

    def __init__(self, entity: dict[str, Any]) -> None:
        self._entity = entity

    def get(self, *_: Any) -> TableReply:
        return TableReply(200, 'W/"1"', "request", entity=self._entity)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "entity",
    [
        {"Revision": "3.0", "Cancelled": False},  # an Int64 edited by hand as a decimal
        {"Revision": "-1", "Cancelled": False},  # read, then every write of it is refused with ValueError
        {"Revision": "3", "Cancelled": False, "Leftovers": "[" * 100_000 + "]" * 100_000},
        {"Revision": "3", "Cancelled": False, "Outcome": "[" * 100_000 + "]" * 100_000},
    ],
    ids=["decimal-revision", "negative-revision", "deep-leftovers", "deep-outcome"],
)
def test_a_hostile_stored_value_is_a_store_error_not_a_defect(entity: dict[str, Any]) -> None:
    store = TableRecordStateStore(_OneEntity(entity))  # type: ignore[arg-type]
    try:
        state = store.read("record")
    except StateStoreError:
        return
    assert state is not None
    assert state.revision is None or state.revision >= 0, state.revision
