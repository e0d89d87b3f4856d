"""The onlineMeeting JSON Graph returns for a new meeting, shaped like the documented responses.

Identifiers have the real formats (a meeting id that is base64 of "1*{organizer}*0**{thread}",
a 19:meeting_...@thread.v2 chat thread, a Teams meetup-join URL), so a client that parses or
stores them meets realistic values. Without dial-in (no Audio Conferencing licence),
audioConferencing is null, as on real Graph.
"""

from __future__ import annotations

import base64
import secrets
import string
import uuid
from typing import Any
from urllib.parse import unquote

from simulator.create_or_get import CreateOrGetRequest
from simulator.edm_datetime import format_date_time_offset

_TOLL_NUMBER = "+1 206-555-0142"  # a fictional (555) number


def new_meeting_document(
    request: CreateOrGetRequest,
    *,
    organizer_id: str,
    tenant_id: str,
    graph_base_url: str,
    dial_in: bool,
    created_ticks: int,
) -> dict[str, Any]:
    """Build the stored meeting for `request`; `organizer_id` is the lower-cased object id from the path."""
    meeting_thread = f"19:meeting_{_base64(str(uuid.uuid4()))}@thread.v2"
    # A meeting booked into a channel lives in the channel's thread, echoed as the request sent it (Graph's
    # channel example returns the percent-encoded form it was given), and is posted as a channel message.
    chat_info = request.chat_info or {}
    thread_id = chat_info.get("threadId") or meeting_thread
    message_id = chat_info.get("messageId") or (_digits(13) if request.chat_info else "0")
    return {
        "@odata.context": f"{graph_base_url}/$metadata#users('{organizer_id}')/onlineMeetings/$entity",
        "id": _base64(f"1*{organizer_id}*0**{meeting_thread}"),
        "creationDateTime": format_date_time_offset(created_ticks),
        "startDateTime": format_date_time_offset(request.start_ticks),
        "endDateTime": format_date_time_offset(request.end_ticks),
        "joinWebUrl": _join_web_url(unquote(thread_id), message_id, tenant_id, organizer_id),
        "subject": request.subject,
        "externalId": request.external_id,
        "isBroadcast": False,
        "isEntryExitAnnounced": True,
        "allowedPresenters": "everyone",
        "videoTeleconferenceId": None,
        "joinMeetingIdSettings": {
            "isPasscodeRequired": False,
            "joinMeetingId": _digits(secrets.choice(range(12, 16))),
            "passcode": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6)),
        },
        "audioConferencing": _audio_conferencing() if dial_in else None,
        "chatInfo": {
            "threadId": thread_id,
            "messageId": message_id,
            "replyChainMessageId": chat_info.get("replyChainMessageId"),
        },
        "participants": {
            "organizer": {
                "upn": f"organizer-{organizer_id[:8]}@simulator.onmicrosoft.com",
                "role": "presenter",
                "identity": {"user": {"id": organizer_id, "displayName": None, "tenantId": tenant_id, "identityProvider": "AAD"}},
            },
            "attendees": [attendee_document(attendee) for attendee in request.attendees],
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
        # The meeting options Update onlineMeeting can change, at Teams' defaults.
        "allowMeetingChat": "enabled",
        "allowAttendeeToEnableCamera": True,
        "allowAttendeeToEnableMic": True,
        "allowTeamworkReactions": True,
        "recordAutomatically": False,
    }


def attendee_document(attendee: dict[str, Any]) -> dict[str, Any]:
    """An attendee as Graph returns it: as sent, a role or identity not sent as null (see the createOrGet example)."""
    return {"upn": attendee.get("upn"), "role": attendee.get("role"), "identity": attendee.get("identity")}


def _join_web_url(thread_id: str, message_id: str, tenant_id: str, organizer_id: str) -> str:
    # Teams encodes these with lower-case %3a / %7b, and the context JSON inline.
    thread = thread_id.replace(":", "%3a").replace("@", "%40")
    context = f"%7b%22Tid%22%3a%22{tenant_id}%22%2c%22Oid%22%3a%22{organizer_id}%22%7d"
    return f"https://teams.microsoft.com/l/meetup-join/{thread}/{message_id}?context={context}"


def _audio_conferencing() -> dict[str, Any]:
    conference_id = _digits(9)
    return {
        "conferenceId": conference_id,
        "tollNumber": _TOLL_NUMBER,
        "tollFreeNumber": None,
        "tollNumbers": [_TOLL_NUMBER],
        "tollFreeNumbers": [],
        "dialinUrl": f"https://dialin.teams.microsoft.com/{uuid.uuid4()}?id={conference_id}",
    }


def _digits(count: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(count - 1))


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
