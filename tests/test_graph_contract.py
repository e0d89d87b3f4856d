"""Everything the bridge sends to Graph, and reads back, exists in the official v1.0 metadata.

The metadata (CSDL) lives in ../shared/graph/, beside the project on our machines and in CI but
not in a user's clone; there these tests skip and say why.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any, get_args

import pytest

from shared.booking import ATTENDEE_ROLES, LobbyBypassScope, MeetingChatMode, OnlineMeetingPresenters, parse_booking
from shared.meeting_changes import meeting_update
from shared.meeting_request import CREATE_OR_GET_PARAMETERS, build_create_or_get_body
from shared.wire_format import LOCK_BEFORE_DELETE
from simulator.meeting_update import BOOLEAN_OPTIONS, ENUM_OPTIONS, LOBBY_BYPASS_SCOPES, NOT_UPDATABLE, UPDATABLE
from simulator.odata_body import ROLES
from tests.bookings import REPO_ROOT, booking

METADATA = REPO_ROOT.parent / "shared" / "graph" / "onlineMeeting.v1.0.csdl.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"

pytestmark = pytest.mark.skipif(
    not METADATA.exists(),
    reason=f"the Graph v1.0 metadata is not beside this checkout ({METADATA}); it exists only on the team's machines and in CI",
)


class GraphMetadata:
    """Types, properties and enum members of the microsoft.graph namespace, from the CSDL file."""

    def __init__(self) -> None:
        schema = ElementTree.fromstring(_without_repeated_namespace(METADATA.read_text(encoding="utf-8")))
        self.properties: dict[str, dict[str, str]] = {}
        self.navigation: dict[str, set[str]] = {}
        self.base_types: dict[str, str] = {}
        self.enums: dict[str, set[str]] = {}
        for kind in ("EntityType", "ComplexType"):
            for element in schema.iter(f"{EDM}{kind}"):
                name = element.get("Name")
                self.properties[name] = {prop.get("Name"): prop.get("Type") for prop in element.iter(f"{EDM}Property")}
                self.navigation[name] = {prop.get("Name") for prop in element.iter(f"{EDM}NavigationProperty")}
                if element.get("BaseType"):
                    self.base_types[name] = _short(element.get("BaseType"))
        for element in schema.iter(f"{EDM}EnumType"):
            self.enums[element.get("Name")] = {member.get("Name") for member in element.iter(f"{EDM}Member")}
        action = next(a for a in schema.iter(f"{EDM}Action") if a.get("Name") == "createOrGet")
        self.create_or_get = {
            p.get("Name"): p.get("Type") for p in action.iter(f"{EDM}Parameter") if p.get("Name") != "bindingParameter"
        }

    def property_type(self, type_name: str, property_name: str) -> str | None:
        while type_name:
            found = self.properties.get(type_name, {}).get(property_name)
            if found:
                return found
            type_name = self.base_types.get(type_name)
        return None

    def check_value(self, edm_type: str, value: Any, path: str) -> None:
        """Fail if `value` uses a property or enum member that `edm_type` does not declare."""
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


def _without_repeated_namespace(text: str) -> str:
    # The extract's root <Schema> declares the default xmlns twice, which a strict XML parser
    # refuses ("duplicate attribute"); both declarations name the same namespace, so drop one.
    declaration = ' xmlns="http://docs.oasis-open.org/odata/ns/edm"'
    head, _, rest = text.partition(">")
    if head.count(declaration) > 1:
        head = head.replace(declaration, "", head.count(declaration) - 1)
    return f"{head}>{rest}"


def _short(edm_type: str) -> str:
    return edm_type.removeprefix("graph.").removeprefix("microsoft.graph.")


@pytest.fixture(scope="module")
def metadata() -> GraphMetadata:
    return GraphMetadata()


def test_the_bridge_knows_exactly_createorgets_parameters(metadata: GraphMetadata) -> None:
    assert set(metadata.create_or_get) == CREATE_OR_GET_PARAMETERS


@pytest.mark.parametrize(
    "attendees",
    [
        [],
        [{"upn": "ada@contoso.com"}],
        [
            {"upn": "ada@contoso.com", "userId": "1f35f2e6-9cab-44ad-8d5a-b74c14720000", "role": "presenter"},
            {"upn": "bob@contoso.com", "userId": "2f35f2e6-9cab-44ad-8d5a-b74c14720000", "role": "coorganizer"},
            {"upn": "eve@fabrikam.com", "role": "attendee"},
        ],
    ],
)
def test_every_name_and_enum_value_sent_exists_in_the_metadata(metadata: GraphMetadata, attendees: list[dict[str, Any]]) -> None:
    body = json.loads(build_create_or_get_body(parse_booking(json.dumps(booking(attendees=attendees)).encode()), "ext-1"))
    assert set(body) <= set(metadata.create_or_get), "createOrGet gets only its declared parameters"
    for parameter, value in body.items():
        metadata.check_value(metadata.create_or_get[parameter], value, parameter)


def test_every_attendee_role_the_contract_allows_is_an_onlinemeetingrole(metadata: GraphMetadata) -> None:
    assert set(ATTENDEE_ROLES) <= metadata.enums["onlineMeetingRole"]


def test_every_property_read_from_the_response_exists_on_onlinemeeting(metadata: GraphMetadata) -> None:
    read = {
        "id": None,
        "joinWebUrl": None,
        "subject": None,
        "startDateTime": None,
        "endDateTime": None,
        "joinMeetingIdSettings": {"joinMeetingId", "passcode"},
        "audioConferencing": {"conferenceId", "tollNumber", "tollFreeNumber", "dialinUrl"},
    }
    for name, nested in read.items():
        declared = metadata.property_type("onlineMeeting", name)
        assert declared, name
        for inner in nested or ():
            assert metadata.property_type(_short(declared), inner), f"{name}.{inner}"


EVERY_OPTION = {
    "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": True},
    "allowedPresenters": "roleIsPresenter",
    "allowMeetingChat": "limited",
    "isEntryExitAnnounced": False,
    "recordAutomatically": True,
}


def test_every_property_a_patch_sends_exists_on_onlinemeeting(metadata: GraphMetadata) -> None:
    changed = booking(
        subject="Moved",
        start="2027-01-05T10:00:00+01:00",
        end="2027-01-05T11:00:00+01:00",
        attendees=[{"upn": "ada@contoso.com", "userId": "1f35f2e6-9cab-44ad-8d5a-b74c14720000", "role": "presenter"}],
        options=EVERY_OPTION,
    )
    update = meeting_update(parse_booking(json.dumps(changed).encode()), {"subject": "Before", "participants": {}})
    assert set(update.body) == {"subject", "startDateTime", "endDateTime", "participants", *EVERY_OPTION}
    for name, value in [*update.body.items(), *LOCK_BEFORE_DELETE.items()]:
        declared = metadata.property_type("onlineMeeting", name)
        assert declared, f"{name} is not a property of onlineMeeting"
        metadata.check_value(declared, value, name)


@pytest.mark.parametrize(
    ("contract_values", "enum"),
    [
        (LobbyBypassScope, "lobbyBypassScope"),
        (OnlineMeetingPresenters, "onlineMeetingPresenters"),
        (MeetingChatMode, "meetingChatMode"),
    ],
)
def test_every_option_value_the_contract_allows_is_a_member_of_graphs_enum(
    metadata: GraphMetadata, contract_values: Any, enum: str
) -> None:
    assert set(get_args(contract_values)) == metadata.enums[enum] - {"unknownFutureValue"}


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("participants", {"attendees": [{"upn": "a@b.c", "email": "a@b.c"}]}),
        ("participants", {"attendees": [{"upn": "a@b.c", "role": "guest"}]}),
        ("participants", {"attendees": [{"upn": "a@b.c", "identity": {"user": {"mail": "a@b.c"}}}]}),
    ],
)
def test_the_metadata_check_catches_a_misspelt_property_or_enum_value(
    metadata: GraphMetadata, parameter: str, value: Any
) -> None:
    with pytest.raises(AssertionError):
        metadata.check_value(metadata.create_or_get[parameter], value, parameter)


def test_the_simulators_update_rules_use_the_metadatas_names_and_members(metadata: GraphMetadata) -> None:
    meeting_types = ("onlineMeeting", "onlineMeetingBase", "entity")
    on_meeting = {name for kind in meeting_types for name in [*metadata.properties[kind], *metadata.navigation[kind]]}

    assert on_meeting == UPDATABLE | NOT_UPDATABLE
    assert not UPDATABLE & NOT_UPDATABLE
    assert BOOLEAN_OPTIONS <= UPDATABLE
    for enum_type, members in ENUM_OPTIONS.values():
        assert members == metadata.enums[enum_type] - {"unknownFutureValue"}
    assert metadata.enums["lobbyBypassScope"] - {"unknownFutureValue"} == LOBBY_BYPASS_SCOPES
    assert metadata.enums["onlineMeetingRole"] - {"unknownFutureValue"} == ROLES


def test_a_channel_bookings_chat_info_uses_only_declared_chat_info_properties(metadata: GraphMetadata) -> None:
    channel = {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2", "messageId": "0", "replyChainMessageId": "0"}
    body = json.loads(build_create_or_get_body(parse_booking(json.dumps(booking(channel=channel)).encode()), "ext-1"))

    assert metadata.create_or_get["chatInfo"] == "graph.chatInfo"
    assert set(body["chatInfo"]) == {"threadId", "messageId", "replyChainMessageId"}
    metadata.check_value(metadata.create_or_get["chatInfo"], body["chatInfo"], "chatInfo")


def test_what_the_result_reads_from_the_meeting_exists_in_the_metadata(metadata: GraphMetadata) -> None:
    assert metadata.property_type("onlineMeeting", "chatInfo") == "graph.chatInfo"
    assert metadata.property_type("chatInfo", "threadId") == "Edm.String"
    assert metadata.property_type("onlineMeeting", "joinInformation") == "graph.itemBody"
    assert {"content", "contentType"} <= set(metadata.properties["itemBody"])
    assert "html" in metadata.enums[_short(metadata.property_type("itemBody", "contentType") or "")]


def test_createorget_and_a_patch_send_a_bookings_attendees_alike() -> None:
    """createOrGet and a PATCH take the same meetingParticipants: a booking's attendees, with their roles and user ids,
    reach Graph in the same shape whether the meeting is new or updated."""
    user_id = "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"
    attendees = [{"upn": "ada@contoso.com", "role": "presenter", "userId": user_id}, {"upn": "grace@contoso.com"}]
    parsed = parse_booking(json.dumps(booking(attendees=attendees)).encode())

    created = json.loads(build_create_or_get_body(parsed, "ext-1"))["participants"]
    patched = meeting_update(parsed, {"participants": {}}).body["participants"]

    assert (
        created
        == patched
        == {
            "attendees": [
                {"upn": "ada@contoso.com", "role": "presenter", "identity": {"user": {"id": user_id}}},
                {"upn": "grace@contoso.com", "role": "attendee"},
            ]
        }
    )
