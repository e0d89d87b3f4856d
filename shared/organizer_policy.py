"""Which organizers the bridge may create meetings for, and on behalf of which sources.

Teams' application access policy is tenant-wide: once granted, the app may act for every
covered user. This is the operator's narrower guard in front of it, checked before Graph is
called. ALLOWED_ORGANIZERS is a comma-separated list of entries:

    6f1c3a2e-...          any source may book for this organizer
    crm=6f1c3a2e-...      only source "crm" may book for this organizer

Empty (the default) means no restriction beyond the Teams policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.identifiers import GUID, SOURCE_NAME, SOURCE_NAME_HINT

ANY_SOURCE = "*"


@dataclass(frozen=True)
class OrganizerPolicy:
    """organizer object id (lower case) -> the sources allowed to book for them ("*" = any)."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def restricts(self) -> bool:
        return bool(self.allowed)

    @property
    def named_sources(self) -> frozenset[str]:
        """The sources an entry names (not "*"): the operator's closed set, which metrics may count by name."""
        return frozenset(source for sources in self.allowed.values() for source in sources if source != ANY_SOURCE)

    def permits(self, source: str, organizer_id: str) -> bool:
        if not self.allowed:
            return True
        sources = self.allowed.get(organizer_id.lower())
        return sources is not None and (ANY_SOURCE in sources or source in sources)


def parse_organizer_policy(text: str) -> OrganizerPolicy:
    """Parse ALLOWED_ORGANIZERS; raise ValueError naming the first entry that is not valid by its position
    (never quoting it: a value pasted into the wrong setting may be a secret)."""
    allowed: dict[str, set[str]] = {}
    entries = [raw.strip() for raw in text.split(",") if raw.strip()]
    for position, entry in enumerate(entries, start=1):
        source, _, organizer = entry.rpartition("=")
        source = source.strip() or ANY_SOURCE
        organizer = organizer.strip()
        if not GUID.match(organizer):
            raise ValueError(f"entry {position}: the organizer must be an Entra object id (a GUID)")
        if source != ANY_SOURCE and not SOURCE_NAME.match(source):
            raise ValueError(f"entry {position}: the source is not a source name ({SOURCE_NAME_HINT})")
        allowed.setdefault(organizer.lower(), set()).add(source)
    return OrganizerPolicy({organizer: frozenset(sources) for organizer, sources in allowed.items()})
