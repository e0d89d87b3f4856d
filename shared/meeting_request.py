"""The createOrGet request body for a booking: only the parameters createOrGet declares.

Times go to Graph in UTC and are always sent: createOrGet otherwise defaults them to
"now" and "now + 1 hour", which would silently give a meeting at the wrong time.
"""

from __future__ import annotations

from typing import Any

from shared.booking import Booking
from shared.wire_format import encoded, graph_date_time, graph_participants

# From the v1.0 metadata: createOrGet's parameters, less the binding parameter.
CREATE_OR_GET_PARAMETERS = frozenset({"externalId", "startDateTime", "endDateTime", "subject", "participants", "chatInfo"})


def build_create_or_get_body(booking: Booking, external_id: str) -> bytes:
    """Return the JSON body (UTF-8 bytes, encoded once) for POST .../onlineMeetings/createOrGet."""
    body: dict[str, Any] = {
        "externalId": external_id,
        "startDateTime": graph_date_time(booking.start),
        "endDateTime": graph_date_time(booking.end),
        "subject": booking.subject,
    }
    if booking.attendees:
        body["participants"] = graph_participants(booking.attendees)
    if booking.channel is not None:
        # Graph creates the meeting in the channel's chat; an existing meeting keeps the chat it has.
        body["chatInfo"] = booking.channel.to_graph()
    return encoded(body)
