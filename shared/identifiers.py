"""The shapes of identifiers, defined once: the contract, the settings and the organizer policy all check them.

A GUID is an Entra object or client id; a source name identifies an upstream system and is part of
the externalId derivation (shared.external_id), so its alphabet can never contain the separator.
"""

from __future__ import annotations

import re

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SOURCE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SOURCE_NAME_HINT = "1-64 of A-Za-z0-9._-"
