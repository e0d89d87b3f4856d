"""Mapping Graph's onlineMeeting to the result's meeting."""

from __future__ import annotations

import pytest

from shared.errors import MalformedMeeting
from shared.meeting import meeting_from_graph

GRAPH_MEETING = {
    "id": "MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ",
    "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0",
    "subject": "Intro call",
    "startDateTime": "2020-09-11T06:30:18.0615989Z",
    "endDateTime": "2020-09-11T07:30:18.0615989Z",
    "joinMeetingIdSettings": {"isPasscodeRequired": False, "joinMeetingId": "1234567890", "passcode": "aB3dE"},
    "audioConferencing": {
        "conferenceId": "9999",
        "tollNumber": "+1 206-485-3005",
        "tollFreeNumber": None,
        "dialinUrl": "https://dialin/x",
    },
}


def test_graphs_seven_digit_fractions_are_read_as_utc() -> None:
    meeting = meeting_from_graph(GRAPH_MEETING)
    assert meeting.start.isoformat() == "2020-09-11T06:30:18.061598+00:00"
    assert (meeting.join_meeting_id, meeting.passcode, meeting.dial_in.toll_number) == ("1234567890", "aB3dE", "+1 206-485-3005")


@pytest.mark.parametrize(
    "audio", [None, {}, {"conferenceId": None, "tollNumber": None, "tollFreeNumber": None, "dialinUrl": None}]
)
def test_no_dial_in_without_audio_conferencing(audio: object) -> None:
    assert meeting_from_graph({**GRAPH_MEETING, "audioConferencing": audio}).dial_in is None


@pytest.mark.parametrize("payload", [None, [], {}, {"id": "x"}, {"joinWebUrl": "https://teams.microsoft.com/x"}])
def test_a_success_body_that_is_not_a_meeting_is_refused(payload: object) -> None:
    with pytest.raises(MalformedMeeting):
        meeting_from_graph(payload)
