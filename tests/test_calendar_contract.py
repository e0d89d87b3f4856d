"""Everything calendar mode sends to Graph's events, and reads back, exists in the official v1.0 metadata for `event`.

The metadata lives in ../shared/graph/, beside the project on our machines and in CI but not in a user's clone;
there these tests skip and say why, except under CI=true, where a missing file is a failure.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest

from shared.booking import parse_booking
from shared.event_request import ATTENDEE_TYPE, TEAMS, build_event_body, cancel_body, event_update
from simulator.events_api import ATTENDEE_TYPES, PROVIDERS, WRITABLE
from tests.bookings import REPO_ROOT, booking

METADATA = REPO_ROOT.parent / "shared" / "graph" / "event.v1.0.csdl.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
MISSING = (
    f"the Graph v1.0 event metadata is not beside this checkout ({METADATA}); it exists only on the team's machines and in CI"
)


@pytest.fixture(scope="module")
def metadata() -> EventMetadata:
    if not METADATA.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    return EventMetadata()


class EventMetadata:
    """Types, properties (navigation included, with their target type), enum members and the cancel action."""

    def __init__(self) -> None:
        schema = ElementTree.fromstring(METADATA.read_text(encoding="utf-8"))
        self.properties: dict[str, dict[str, str]] = {}
        self.base_types: dict[str, str] = {}
        self.enums: dict[str, set[str]] = {}
        for kind in ("EntityType", "ComplexType"):
            for element in schema.iter(f"{EDM}{kind}"):
                name = element.get("Name")
                self.properties[name] = {
                    prop.get("Name"): prop.get("Type")
                    for tag in ("Property", "NavigationProperty")
                    for prop in element.findall(f"{EDM}{tag}")
                }
                if element.get("BaseType"):
                    self.base_types[name] = _short(element.get("BaseType"))
        for element in schema.iter(f"{EDM}EnumType"):
            self.enums[element.get("Name")] = {member.get("Name") for member in element.iter(f"{EDM}Member")}
        action = next(a for a in schema.iter(f"{EDM}Action") if a.get("Name") == "cancel")
        self.cancel = {p.get("Name") for p in action.iter(f"{EDM}Parameter") if p.get("Name") != "bindingParameter"}

    def property_type(self, type_name: str | None, property_name: str) -> str | None:
        while type_name:
            found = self.properties.get(type_name, {}).get(property_name)
            if found:
                return found
            type_name = self.base_types.get(type_name)
        return None

    def check_value(self, edm_type: str, value: Any, path: str) -> None:
        if edm_type.startswith("Collection("):
            assert isinstance(value, list), path
            for index, item in enumerate(value):
                self.check_value(edm_type[len("Collection(") : -1], item, f"{path}[{index}]")
            return
        name = _short(edm_type)
        if name in self.enums:
            assert value in self.enums[name] and value != "unknownFutureValue", f"{path}: {value!r} is not a {name} member"
        elif name in self.properties:
            assert isinstance(value, dict), path
            for key, item in value.items():
                declared = self.property_type(name, key)
                assert declared, f"{path}.{key} is not a property of {name}"
                self.check_value(declared, item, f"{path}.{key}")


def _short(edm_type: str) -> str:
    return edm_type.removeprefix("graph.").removeprefix("microsoft.graph.")


def _parsed(**overrides: Any) -> Any:
    return parse_booking(json.dumps(booking(calendar={"sendInvitations": True}, **overrides)).encode())


def test_every_property_and_enum_value_of_the_post_exists_on_event(metadata: EventMetadata) -> None:
    body = json.loads(build_event_body(_parsed(), "ext-1", 0))
    assert "attendees" in body and "singleValueExtendedProperties" in body
    metadata.check_value("graph.event", body, "event")


def test_every_property_a_patch_sends_exists_on_event(metadata: EventMetadata) -> None:
    update = event_update(_parsed(subject="Moved", attendees=[{"upn": "bob@contoso.com"}]), {"subject": "Before"})
    assert set(update.body) == {"subject", "start", "end", "attendees"}
    metadata.check_value("graph.event", update.body, "event")


def test_cancel_gets_exactly_its_declared_parameter(metadata: EventMetadata) -> None:
    assert set(json.loads(cancel_body())) == metadata.cancel


def test_every_property_read_from_an_event_exists(metadata: EventMetadata) -> None:
    for path in ("id", "subject", "isCancelled", "transactionId", "start.dateTime", "start.timeZone", "end.dateTime",
                 "attendees.emailAddress.address", "onlineMeeting.joinUrl"):  # fmt: skip
        type_name: str | None = "event"
        for part in path.split("."):
            declared = metadata.property_type(type_name, part)
            assert declared, f"{path}: {part} is not declared"
            type_name = _short(declared.removeprefix("Collection(").removesuffix(")"))


def test_the_constants_and_the_simulators_rules_use_the_metadatas_names_and_members(metadata: EventMetadata) -> None:
    assert TEAMS in metadata.enums["onlineMeetingProviderType"]
    assert ATTENDEE_TYPE in metadata.enums["attendeeType"]
    assert metadata.enums["onlineMeetingProviderType"] == PROVIDERS
    assert metadata.enums["attendeeType"] == ATTENDEE_TYPES
    assert all(metadata.property_type("event", name) for name in WRITABLE)


@pytest.mark.parametrize(
    "value",
    [
        {"onlineMeetingProvider": "teams"},
        {"attendees": [{"emailAddress": {"address": "a@b.c"}, "type": "mandatory"}]},
        {"singleValueExtendedProperties": [{"id": "x", "value": "y", "name": "z"}]},
        {"isOnlineMeetng": True},
    ],
)
def test_the_metadata_check_catches_a_misspelt_property_or_enum_value(metadata: EventMetadata, value: dict) -> None:
    with pytest.raises(AssertionError):
        metadata.check_value("graph.event", value, "event")
