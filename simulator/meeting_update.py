"""The Update onlineMeeting (PATCH) body, read as strictly as Graph reads it, and applied to a stored meeting.

Only the documented updatable properties are accepted; every other onlineMeeting property in
the v1.0 metadata is refused as not updatable, and a name the metadata does not declare is
refused as unknown. The documented rules are enforced too: a new start needs a new end (and
the other way round), participants.organizer cannot change, and participants.attendees is
the full new list, not an addition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.edm_datetime import format_date_time_offset
from simulator.meeting_document import attendee_document
from simulator.odata_body import (
    bad_request,
    boolean_value,
    date_time_value,
    enum_value,
    participant_infos,
    read_json_object,
    refuse_unknown,
    string_value,
)

BOOLEAN_OPTIONS = frozenset(
    {
        "allowAttendeeToEnableCamera",
        "allowAttendeeToEnableMic",
        "allowTeamworkReactions",
        "isEntryExitAnnounced",
        "recordAutomatically",
    }
)
# Enum-typed options: property -> (enum type, the members a caller may send; never unknownFutureValue).
ENUM_OPTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "allowedPresenters": ("onlineMeetingPresenters", frozenset({"everyone", "organization", "roleIsPresenter", "organizer"})),
    "allowMeetingChat": ("meetingChatMode", frozenset({"enabled", "disabled", "limited"})),
}
LOBBY_BYPASS_SCOPES = frozenset(
    {"organizer", "organization", "organizationAndFederated", "everyone", "invited", "organizationExcludingGuests"}
)
_LOBBY_BYPASS_PROPERTIES = frozenset({"isDialInBypassEnabled", "scope"})
_PARTICIPANTS_PROPERTIES = frozenset({"attendees", "organizer"})

UPDATABLE = frozenset(
    {"endDateTime", "lobbyBypassSettings", "participants", "startDateTime", "subject"} | BOOLEAN_OPTIONS | ENUM_OPTIONS.keys()
)
# Every other property (and navigation property) of onlineMeeting, onlineMeetingBase and entity in the v1.0 metadata.
NOT_UPDATABLE = frozenset(
    {
        "allowBreakoutRooms",
        "allowCopyingAndSharingMeetingContent",
        "allowedLobbyAdmitters",
        "allowLiveShare",
        "allowParticipantsToChangeName",
        "allowPowerPointSharing",
        "allowRecording",
        "allowTranscription",
        "allowWhiteboard",
        "attendanceReports",
        "attendeeReport",
        "audioConferencing",
        "broadcastSettings",
        "chatInfo",
        "chatRestrictions",
        "cloudVideoInteropInfo",
        "creationDateTime",
        "expiryDateTime",
        "externalId",
        "id",
        "isBroadcast",
        "isEndToEndEncryptionEnabled",
        "joinInformation",
        "joinMeetingIdSettings",
        "joinWebUrl",
        "meetingOptionsWebUrl",
        "meetingSpokenLanguageTag",
        "meetingTemplateId",
        "meetingType",
        "recordings",
        "sensitivityLabelAssignment",
        "shareMeetingChatHistoryDefault",
        "transcripts",
        "videoTeleconferenceId",
        "watermarkProtection",
    }
)


@dataclass(frozen=True)
class MeetingUpdate:
    """A valid PATCH body: the top-level values to replace, the new attendee list, the lobby settings to merge."""

    values: dict[str, Any] = field(default_factory=dict)
    attendees: tuple[dict[str, Any], ...] | None = None
    lobby_bypass: dict[str, Any] = field(default_factory=dict)

    def apply(self, meeting: dict[str, Any]) -> None:
        """Change `meeting` (a stored onlineMeeting document) in place."""
        meeting.update(self.values)
        if self.attendees is not None:
            meeting["participants"]["attendees"] = [attendee_document(attendee) for attendee in self.attendees]
        if self.lobby_bypass:
            # PATCH merges a complex property: members not sent keep their values.
            meeting["lobbyBypassSettings"] = {**(meeting.get("lobbyBypassSettings") or {}), **self.lobby_bypass}


def parse_meeting_update(content_type: str | None, body: bytes) -> MeetingUpdate:
    """Validate a PATCH body. Raises GraphError 400."""
    payload = read_json_object(content_type, body, "Update onlineMeeting")
    for name in payload:
        if name in NOT_UPDATABLE:
            raise bad_request(
                f"The property '{name}' of type 'microsoft.graph.onlineMeeting' cannot be updated. "
                f"The properties that can be updated are: {', '.join(sorted(UPDATABLE))}."
            )
    refuse_unknown(payload, UPDATABLE, "microsoft.graph.onlineMeeting")
    for name, value in payload.items():
        if value is None and name != "subject":
            raise bad_request(f"The property '{name}' cannot be set to null.")

    values: dict[str, Any] = {}
    for name in payload:
        if name == "subject":
            values[name] = string_value(payload, name, "Edm.String")
        elif name in BOOLEAN_OPTIONS:
            values[name] = boolean_value(payload, name)
        elif name in ENUM_OPTIONS:
            values[name] = enum_value(payload, name, *ENUM_OPTIONS[name])
    values.update(_times(payload))
    return MeetingUpdate(
        values=values,
        attendees=_attendees(payload["participants"]) if "participants" in payload else None,
        lobby_bypass=_lobby_bypass(payload["lobbyBypassSettings"]) if "lobbyBypassSettings" in payload else {},
    )


def _times(payload: dict[str, Any]) -> dict[str, str]:
    # "Adjusting the start or end date/time always requires both startDateTime and endDateTime."
    start = date_time_value(payload, "startDateTime")
    end = date_time_value(payload, "endDateTime")
    if start is None and end is None:
        return {}
    if start is None or end is None:
        raise bad_request("Adjusting the start or end date/time always requires both startDateTime and endDateTime.")
    if end < start:
        raise bad_request("The endDateTime cannot be earlier than the startDateTime.")
    return {"startDateTime": format_date_time_offset(start), "endDateTime": format_date_time_offset(end)}


def _attendees(participants: Any) -> tuple[dict[str, Any], ...] | None:
    if not isinstance(participants, dict):
        raise bad_request("The value of 'participants' must be a microsoft.graph.meetingParticipants object.")
    refuse_unknown(participants, _PARTICIPANTS_PROPERTIES, "microsoft.graph.meetingParticipants")
    if "organizer" in participants:
        raise bad_request("The organizer field of the participants property cannot be updated.")
    if "attendees" not in participants:
        return None
    # "Adjusting the attendees always requires the full list of attendees": the list replaces the old one.
    return participant_infos(participants["attendees"], "participants.attendees")


def _lobby_bypass(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("The value of 'lobbyBypassSettings' must be a microsoft.graph.lobbyBypassSettings object.")
    refuse_unknown(value, _LOBBY_BYPASS_PROPERTIES, "microsoft.graph.lobbyBypassSettings")
    for name, member in value.items():
        if member is None:
            raise bad_request(f"The property 'lobbyBypassSettings.{name}' cannot be set to null.")
    enum_value(value, "scope", "lobbyBypassScope", LOBBY_BYPASS_SCOPES, "lobbyBypassSettings")
    boolean_value(value, "isDialInBypassEnabled", "lobbyBypassSettings")
    return dict(value)
