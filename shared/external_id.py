"""The externalId that makes createOrGet idempotent for one source record.

Graph identifies a createOrGet meeting by tenant + organizer + externalId, so the same
record must always give the same externalId: in any process, on any version of this code.
It is UUIDv5 over "<source>\\n<recordId>" (UTF-8) in a fixed namespace. The encoding is
unambiguous because `source` admits only [A-Za-z0-9._-] and `recordId` no control characters
or line breaks, so neither can contain the newline. revision, subject and times are not part of
it: a reschedule must reach the same meeting. Upstream systems can compute it themselves;
docs/contract.md lists test vectors, and tests/test_external_id.py pins them.
"""

from __future__ import annotations

import uuid

# Fixed for ever: changing it would orphan every meeting already created.
EXTERNAL_ID_NAMESPACE = uuid.UUID("ab4977e4-08f1-46c6-8a72-87cec761415d")


def derive_external_id(source: str, record_id: str) -> str:
    """Return the externalId for a source record (a lowercase, hyphenated UUID string)."""
    if "\n" in source or "\n" in record_id:
        raise ValueError("source and recordId cannot contain a newline")
    return str(uuid.uuid5(EXTERNAL_ID_NAMESPACE, f"{source}\n{record_id}"))
