"""The shapes of identifiers, defined once: the contract, the settings and the organizer policy all check them.

A GUID is an Entra object or client id; a source name identifies an upstream system and is part of
the externalId derivation (shared.external_id), so its alphabet can never contain the separator.

Each shape comes twice, from one text. The *_PATTERN string is what the JSON Schema publishes: an
ECMA-262 regular expression, whose `$` is the end of the text (pydantic's `Field(pattern=...)` reads
`$` the same way). The compiled form is for Python's `re`, whose `$` also matches just before a final
newline: it ends in `\\Z` instead, so that "<guid>\\n" is not a GUID whether it is checked with
`match` or `fullmatch`.
"""

from __future__ import annotations

import re


def python_pattern(json_schema_pattern: str) -> re.Pattern[str]:
    """A published pattern, anchored `^...$`, compiled for Python's `re`: its final `$` read as ECMA-262 reads it."""
    return re.compile(json_schema_pattern.removesuffix("$") + r"\Z")


GUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
GUID = python_pattern(GUID_PATTERN)
SOURCE_NAME_PATTERN = "^[A-Za-z0-9._-]{1,64}$"
SOURCE_NAME = python_pattern(SOURCE_NAME_PATTERN)
SOURCE_NAME_HINT = "1-64 of A-Za-z0-9._-"
