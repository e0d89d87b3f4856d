"""The meeting's invitation text (Graph's joinInformation), decoded for the result.

Graph returns it as an itemBody whose content is a percent-encoded `data:text/html,` URI, in the
language of the request's Accept-Language (create onlineMeeting: "If the request contains an
Accept-Language header, the content of joinInformation will be in the language and locale variant
specified"). Graph's example encodes it as a form does: `+` for a space, `%2B` for a plus (the dial-in
link `tel%3A%2B1647...`), so it is decoded as unquote_plus decodes, in C where it can be (percent_decoded).

It is outside input, it carries dial-in numbers and links, and it goes into the result whole: it is
bounded (MAX_JOIN_INFORMATION_BYTES as it will be published, so a result stays far below Service Bus
Standard's 256 KiB), left out when it is not what Graph documents, and never logged.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import Field

from shared.contract_model import ContractModel

# Graph's invitations are 4-8 KiB of HTML (its Japanese example: about 6 KiB); four times that is room
# for long dial-in lists while a result stays far below 256 KiB.
MAX_JOIN_INFORMATION_BYTES = 32 * 1024
JOIN_INFORMATION_TOO_LARGE = "join_information_too_large"
# data:[<media type>][;parameters][;base64],<data> (RFC 2397); only text/html, not base64.
# Only UTF-8 (or no charset, which Graph's examples use): another charset's bytes would be decoded wrongly.
_HTML_DATA_URI = re.compile(r"data:text/html(;charset=\"?utf-8\"?)?,", re.IGNORECASE | re.ASCII)
# Control characters other than tab and line breaks are not HTML text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A percent sign that does not start an escape: unquote_plus keeps it as it is.
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class JoinInformation(ContractModel):
    """The invitation text to paste into a confirmation e-mail: join link, dial-in numbers, meeting options link."""

    content_type: Literal["html"] = Field(default="html", description="Always html.")
    content: str = Field(description=f"The HTML, decoded from Graph's data URI; at most {MAX_JOIN_INFORMATION_BYTES} bytes.")


@dataclass(frozen=True)
class JoinInformationReading:
    """What Graph's joinInformation gave: the text, or whether it was left out for its size."""

    value: JoinInformation | None = None
    too_large: bool = False


def read_join_information(item_body: Any) -> JoinInformationReading:
    """Decode Graph's joinInformation itemBody; anything not of the documented shape is left out."""
    if not isinstance(item_body, dict):
        return JoinInformationReading()
    content, content_type = item_body.get("content"), item_body.get("contentType")
    if not isinstance(content, str) or (content_type is not None and str(content_type).lower() != "html"):
        return JoinInformationReading()
    # Each decoded byte takes at least one character of the URI: a longer text cannot fit once decoded.
    if len(content) > 3 * MAX_JOIN_INFORMATION_BYTES + 100:
        return JoinInformationReading(too_large=True)
    try:
        # Bytes that are not UTF-8, or an unpaired surrogate (JSON can escape one): not text, left out.
        uri = percent_decoded(content)
    except UnicodeError:
        return JoinInformationReading()
    prefix = _HTML_DATA_URI.match(uri)
    if prefix is None:
        return JoinInformationReading()
    html = uri[prefix.end() :]
    if not html.strip() or _CONTROL.search(html):
        return JoinInformationReading()
    if len(json.dumps(html, ensure_ascii=False).encode("utf-8")) > MAX_JOIN_INFORMATION_BYTES:
        return JoinInformationReading(too_large=True)
    return JoinInformationReading(JoinInformation(content=html))


def percent_decoded(content: str) -> str:
    """unquote_plus(content, errors="strict"), with UnicodeError for text that is not UTF-8 once decoded.

    Graph's invitation has an escape every few characters: unquote_plus decodes it in a Python loop, binascii's
    quoted-printable decoder in C, several times faster as measured on invitations of Graph's size. With every "="
    first written as its own escape, "=3D", each "%XX" becomes the "=XX" it decodes; a percent sign that starts no
    escape is left to unquote_plus, which keeps it."""
    if _LONE_PERCENT.search(content):
        content.encode("utf-8")
        return unquote_plus(content, errors="strict")
    quoted_printable = content.replace("+", " ").replace("=", "=3D").replace("%", "=").encode("utf-8")
    return binascii.a2b_qp(quoted_printable).decode("utf-8")
