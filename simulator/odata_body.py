"""Reading a JSON request body the way Graph's OData layer reads it: strictly, with its messages.

createOrGet and the onlineMeeting PATCH share these rules: the body must be a JSON object
labelled application/json, property names must be declared by the type, values must have the
declared Edm type, and enum values must be declared members (unknownFutureValue is a
placeholder Graph sends, never one a caller may send).
"""

from __future__ import annotations

import json
from typing import Any

from simulator.edm_datetime import parse_date_time_offset
from simulator.graph_errors import GraphError

# onlineMeetingRole members a caller may send (unknownFutureValue is a placeholder, not a role).
ROLES = frozenset({"attendee", "presenter", "producer", "coorganizer"})
_PARTICIPANT_INFO_PROPERTIES = frozenset({"identity", "role", "upn"})
_IDENTITY_SET_KNOWN = frozenset({"application", "device", "user"})

_MALFORMED = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."


def read_json_object(content_type: str | None, body: bytes, operation: str) -> dict[str, Any]:
    """The body as a JSON object; GraphError 400 when it is not labelled JSON, not JSON, or not an object."""
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/json":
        raise bad_request(f"{_MALFORMED} (Content-Type was {content_type!r}; {operation} requires application/json.)")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request(_MALFORMED) from None
    if not isinstance(payload, dict):
        raise bad_request(f"{_MALFORMED} (The payload must be a JSON object.)")
    return payload


def refuse_unknown(value: dict[str, Any], allowed: frozenset[str], type_name: str) -> None:
    """400 for the first property `type_name` does not declare."""
    for name in value:
        if name not in allowed:
            raise bad_request(
                f"The property '{name}' does not exist on type '{type_name}'. "
                "Make sure to only use property names that are defined by the type or mark the type as open type."
            )


def string_value(container: dict[str, Any], name: str, edm_type: str, where: str = "") -> str | None:
    """container[name] when it is a string or absent/null; 400 for any other JSON type."""
    value = container.get(name)
    if value is not None and not isinstance(value, str):
        raise _wrong_type(value, _path(where, name), edm_type)
    return value


def boolean_value(container: dict[str, Any], name: str, where: str = "") -> bool | None:
    """container[name] when it is a JSON boolean or absent/null; 400 for 0/1, "true" and the like."""
    value = container.get(name)
    if value is not None and not isinstance(value, bool):
        raise _wrong_type(value, _path(where, name), "Edm.Boolean")
    return value


def date_time_value(container: dict[str, Any], name: str) -> int | None:
    """container[name] as UTC ticks, or None when absent/null; 400 when it is not an Edm.DateTimeOffset (offset required)."""
    text = string_value(container, name, "Edm.DateTimeOffset")
    if text is None:
        return None
    try:
        return parse_date_time_offset(text)
    except ValueError as error:
        raise bad_request(f"Cannot convert the value of '{name}': {error}") from None


def enum_value(container: dict[str, Any], name: str, enum_type: str, members: frozenset[str], where: str = "") -> str | None:
    """container[name] when it is one of `members` (or absent/null); 400 otherwise, listing the members."""
    value = string_value(container, name, f"microsoft.graph.{enum_type}", where)
    if value is not None and value not in members:
        raise bad_request(
            f"The value '{value}' of '{_path(where, name)}' is not a member of microsoft.graph.{enum_type} "
            f"({', '.join(sorted(members))})."
        )
    return value


def participant_info(value: Any, where: str) -> dict[str, Any]:
    """A valid meetingParticipantInfo (upn, role, identity), returned as sent."""
    if not isinstance(value, dict):
        raise bad_request(f"The value of '{where}' must be a microsoft.graph.meetingParticipantInfo object.")
    refuse_unknown(value, _PARTICIPANT_INFO_PROPERTIES, "microsoft.graph.meetingParticipantInfo")
    string_value(value, "upn", "Edm.String", where)
    enum_value(value, "role", "onlineMeetingRole", ROLES, where)
    _identity_set(value.get("identity"), f"{where}.identity")
    return value


def participant_infos(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    """A valid Collection(meetingParticipantInfo)."""
    if not isinstance(value, list):
        raise bad_request(f"The value of '{where}' must be a collection of meetingParticipantInfo objects.")
    return tuple(participant_info(item, f"{where}[{index}]") for index, item in enumerate(value))


def bad_request(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _identity_set(value: Any, where: str) -> None:
    # identitySet and identity are open types: extra properties are allowed, but the declared
    # ones must have the declared shapes.
    if value is None:
        return
    if not isinstance(value, dict):
        raise bad_request(f"The value of '{where}' must be a microsoft.graph.identitySet object.")
    for name in _IDENTITY_SET_KNOWN & value.keys():
        identity = value[name]
        if identity is None:
            continue
        if not isinstance(identity, dict):
            raise bad_request(f"The value of '{where}.{name}' must be a microsoft.graph.identity object.")
        string_value(identity, "id", "Edm.String", f"{where}.{name}")
        string_value(identity, "displayName", "Edm.String", f"{where}.{name}")


def _wrong_type(value: Any, path: str, edm_type: str) -> GraphError:
    return bad_request(f"Cannot convert the value of '{path}' ({json.dumps(value)}) to the expected type '{edm_type}'.")


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
