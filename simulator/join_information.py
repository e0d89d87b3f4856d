"""The invitation text Graph returns as joinInformation, in the language of the request's Accept-Language.

Shaped like the create onlineMeeting example ('Accept-Language: ja'): an itemBody whose content is the
whole `data:text/html,<html>` URI percent-encoded as a form encodes it (`+` for a space, `%2B` for a
plus), with the join link, the dial-in numbers and the meeting-options link. It is rendered for each
answer, not stored: the same meeting reads in whichever language each request asks for.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote_plus

# A few languages' phrases; any other Accept-Language gets Graph's default, English.
_PHRASES = {
    "en": ("Join the meeting now", "Meeting ID", "Passcode", "Dial in by phone", "Meeting options"),
    "de": ("Jetzt an der Besprechung teilnehmen", "Besprechungs-ID", "Kennung", "Telefonische Einwahl", "Besprechungsoptionen"),
    "ja": ("Microsoft Teams 会議に参加", "会議 ID", "パスコード", "電話でダイヤルイン", "会議のオプション"),
    "pt": ("Ingressar na reunião agora", "ID da reunião", "Senha", "Discagem por telefone", "Opções de reunião"),
    "fr": ("Rejoindre la réunion maintenant", "ID de la réunion", "Code secret", "Appel par téléphone", "Options de réunion"),
}


def language_of(accept_language: str | None) -> str:
    """The primary language subtag of the first Accept-Language range Graph has phrases for, else "en"."""
    for part in (accept_language or "").split(","):
        primary = part.split(";", 1)[0].strip().split("-", 1)[0].lower()
        if primary in _PHRASES:
            return primary
    return "en"


def join_information(meeting: dict[str, Any], organizer_id: str, tenant_id: str, accept_language: str | None) -> dict[str, str]:
    """Graph's joinInformation itemBody for `meeting` in the requested language."""
    language = language_of(accept_language)
    join_now, meeting_id_label, passcode_label, dial_in_label, options_label = _PHRASES[language]
    settings = meeting.get("joinMeetingIdSettings") or {}
    audio = meeting.get("audioConferencing") or {}
    thread_id = (meeting.get("chatInfo") or {}).get("threadId", "")
    options_url = (
        f"https://teams.microsoft.com/meetingOptions/?organizerId={organizer_id}&tenantId={tenant_id}"
        f"&threadId={quote_plus(thread_id)}&messageId=0&language={language}"
    )
    lines = [
        '<div class="me-email-text" style="color:#252424;font-family:\'Segoe UI\',sans-serif;">',
        f'<a class="me-email-headline" href="{escape(meeting["joinWebUrl"])}">{escape(join_now)}</a>',
        f"<div>{escape(meeting_id_label)}: {escape(str(settings.get('joinMeetingId') or ''))}</div>",
        f"<div>{escape(passcode_label)}: {escape(str(settings.get('passcode') or ''))}</div>",
    ]
    if audio.get("tollNumber"):
        number = str(audio["tollNumber"])
        dial = escape(f"tel:{number},,{audio.get('conferenceId')}#")
        lines.append(f'<div>{escape(dial_in_label)}: <a href="{dial}">{escape(number)}</a></div>')
    lines.append(f'<div><a class="me-email-link" href="{escape(options_url)}">{escape(options_label)}</a></div>')
    lines.append("</div>")
    return {"content": quote_plus("data:text/html," + "\n".join(lines)), "contentType": "html"}
