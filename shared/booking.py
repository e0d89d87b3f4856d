"""The booking message contract (schema version 1) and its parser.

Upstream systems rely on these field names, so they are the JSON names exactly; the
JSON Schema in schemas/booking.v1.schema.json is generated from this model
(python -m bridgectl.schemas) and a test keeps it current. Every way a message can be
wrong ends in InvalidBooking with the field path and the reason, never in an
unhandled exception: a message that cannot succeed must still get an answer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shared.contract_model import ContractModel
from shared.errors import BookingIdentity, FieldProblem, InvalidBooking
from shared.identifiers import GUID, GUID_PATTERN, SOURCE_NAME, SOURCE_NAME_HINT, SOURCE_NAME_PATTERN, python_pattern

MAX_BODY_BYTES = 64 * 1024
MAX_ATTENDEES = 250
MAX_SUBJECT_LENGTH = 255
MAX_DURATION_HOURS = 24
MAX_DURATION = timedelta(hours=MAX_DURATION_HOURS)
# The roles Graph accepts for a meeting participant that are meaningful for a meeting
# (onlineMeetingRole in the v1.0 metadata, less `producer`, which is for live events,
# and `unknownFutureValue`, which is not a role).
AttendeeRole = Literal["attendee", "presenter", "coorganizer"]
ATTENDEE_ROLES = get_args(AttendeeRole)
# Graph: "Assigning the presenter or coorganizer role to users who are not registered in
# Microsoft Entra ID is not currently supported" (create onlineMeeting), so those need a userId.
ROLES_NEEDING_USER_ID = frozenset({"presenter", "coorganizer"})

# Meeting options, named as in the v1.0 metadata (onlineMeetingBase) and limited to its enum
# members, less unknownFutureValue: createOrGet does not take them, so they are applied by PATCH.
LobbyBypassScope = Literal[
    "organizer", "organization", "organizationAndFederated", "everyone", "invited", "organizationExcludingGuests"
]
OnlineMeetingPresenters = Literal["everyone", "organization", "roleIsPresenter", "organizer"]
MeetingChatMode = Literal["enabled", "disabled", "limited"]

# Cc: control characters; Cs: unpaired surrogates (JSON can escape them, UTF-8 cannot carry them).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})
_LINE_BREAKS = frozenset("\u2028\u2029")
# Table storage keeps revisions as Edm.Int64.
MAX_REVISION = 2**63 - 1
# [0-9], not \d: Python's \d is any Unicode digit. Checked with fullmatch: Python's $ also matches before a final newline.
_DATE_TIME_WITH_OFFSET = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE_TIME_HINT = "an ISO 8601 date-time with a UTC offset, such as 2026-12-01T10:00:00+01:00"
# A Teams channel's thread id as Teams shows it (19:...@thread.tacv2, or @thread.skype for older
# channels), or percent-encoded as in a channel link and Graph's own example (19%3A...%40thread.skype).
_CHANNEL_THREAD_ID = re.compile(r"19:[A-Za-z0-9._=-]{1,200}@thread\.(tacv2|skype)")
_CHANNEL_THREAD_ID_SENT = r"^19(:|%3[Aa])[A-Za-z0-9._=-]{1,200}(@|%40)thread\.(tacv2|skype)$"
_CHANNEL_THREAD_ID_SENT_FORM = python_pattern(_CHANNEL_THREAD_ID_SENT)
_CHANNEL_THREAD_HINT = "a Teams channel's thread id such as 19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"
# A Teams chat message id: digits (milliseconds since 1970; "0" for none), as in chatInfo examples.
_MESSAGE_ID_PATTERN = "^[0-9]{1,20}$"
_MESSAGE_ID = python_pattern(_MESSAGE_ID_PATTERN)
# A user principal name or e-mail address: one @, text on both sides, no white space and no control characters.
# Spelt out rather than \s: ECMA-262's \s (JSON Schema's) and Python's differ (U+FEFF, U+001C-U+001F, U+0085), and
# neither refuses the other control characters. Excluded: C0 and space, DEL, C1 and the no-break space, and the
# white space both \s know (U+1680, U+2000-U+200A, the line and paragraph separators, U+202F, U+205F, U+3000, U+FEFF).
_NOT_IN_UPN = r"@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_UPN_PATTERN = f"^[^{_NOT_IN_UPN}]+@[^{_NOT_IN_UPN}]+$"
_UPN = python_pattern(_UPN_PATTERN)
# BCP 47 (RFC 5646) language tags in the forms Accept-Language carries: language (2-3 letters),
# optional script (4 letters), optional region (2 letters or 3 digits), optional variants. Strict
# enough that the value is safe in an HTTP header; extensions and private use are not needed here.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*")
MAX_LANGUAGE_TAG_LENGTH = 35


def _one_line(value: str) -> str:
    # Control characters and line breaks are refused; format characters (a soft hyphen, the zero-width
    # joiner inside an emoji) and other spaces (a non-breaking space) are ordinary text in a subject.
    # Printable text has none of the refused ones (str.isprintable, in C): only other text is looked at closely.
    if value.isprintable():
        return value
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES or character in _LINE_BREAKS for character in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _json_integer(value: Any) -> Any:
    # JSON true and 1.0 are not the integer 1; Python would say they are.
    if type(value) is not int:
        raise ValueError("must be a JSON integer")
    return value


def _date_time_string(value: Any) -> Any:
    # Numbers would be read as Unix timestamps and naive strings guessed at: both are refused.
    if not isinstance(value, str):
        raise ValueError(f"must be {_DATE_TIME_HINT}")
    if not _DATE_TIME_WITH_OFFSET.fullmatch(value):
        raise ValueError(f"must be {_DATE_TIME_HINT} (naive times are refused, never guessed)")
    return value


def _utc(value: datetime) -> datetime:
    # 9999-12-31T23:00:00-12:00 is a valid offset date-time whose UTC form is past year 9999.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be within years 1 to 9999 once converted to UTC") from None


def _shaped(pattern: re.Pattern[str], reason: str, read: Callable[[str], str] = str) -> AfterValidator:
    """The value, read with `read`, where `pattern` matches all of it; else ValueError(reason)."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(reason)
        return read(value)

    return AfterValidator(check)


def normalized_thread_id(value: str) -> str:
    """A thread id in the form Teams shows it: a percent-encoded one (19%3A...%40thread...) decoded once."""
    return unquote(value) if "%" in value else value


def _channel_thread_id(value: str) -> str:
    # The value as sent must have one of the two published forms (the JSON Schema's pattern), before decoding.
    thread_id = normalized_thread_id(value)
    if not _CHANNEL_THREAD_ID_SENT_FORM.fullmatch(value) or not _CHANNEL_THREAD_ID.fullmatch(thread_id):
        raise ValueError(f"must be {_CHANNEL_THREAD_HINT} (or @thread.skype), as Teams shows it or percent-encoded")
    return thread_id


def _language_tag(value: str) -> str:
    if len(value) > MAX_LANGUAGE_TAG_LENGTH or not _LANGUAGE_TAG.fullmatch(value):
        raise ValueError("must be a BCP 47 language tag such as de-DE, ja or pt-BR (language, optional script and region)")
    return value


# The published patterns are JSON Schema's (json_schema_extra); the validators check the same with Python's re and
# say what is expected in the contract's words.
Guid = Annotated[
    str,
    _shaped(GUID, "must be a GUID such as 6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e (an Entra object id, not a UPN)", str.lower),
    Field(json_schema_extra={"pattern": GUID_PATTERN}),
]
SourceName = Annotated[
    str,
    _shaped(SOURCE_NAME, f"must be {SOURCE_NAME_HINT} (ASCII letters, digits, dot, underscore, hyphen)"),
    Field(json_schema_extra={"pattern": SOURCE_NAME_PATTERN}),
]
MessageId = Annotated[
    str,
    _shaped(_MESSAGE_ID, "must be a Teams chat message id: 1-20 digits"),
    Field(json_schema_extra={"pattern": _MESSAGE_ID_PATTERN}),
]
RecordId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_one_line)]
Revision = Annotated[int, Strict(), Field(ge=0, le=MAX_REVISION)]
DateTimeWithOffset = Annotated[
    AwareDatetime, BeforeValidator(_date_time_string), AfterValidator(_utc), Field(json_schema_extra={"format": "date-time"})
]


class _Contract(ContractModel):
    # Unknown fields are refused: a misspelt field silently ignored is a booking silently wrong. Only the JSON names
    # are fields: the models' Python names (record_id) are not part of the contract, and the schema refuses them.
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class Attendee(_Contract):
    """A meeting participant. Graph has failed on attendees without a UPN, so it is required."""

    upn: Annotated[
        str,
        Field(min_length=3, max_length=256, json_schema_extra={"pattern": _UPN_PATTERN}),
        _shaped(_UPN, "must be a user principal name or e-mail address, name@domain, without spaces or control characters"),
    ] = Field(description="The attendee's user principal name or email address.")
    user_id: Guid | None = Field(default=None, description="The attendee's Entra object id, when known.")
    role: AttendeeRole = Field(
        default="attendee", description="Presenter and coorganizer need userId: Graph supports them only for Entra users."
    )

    @field_validator("role")
    @classmethod
    def _role_needs_user_id(cls, role: str, info: ValidationInfo) -> str:
        if role in ROLES_NEEDING_USER_ID and not info.data.get("user_id"):
            raise ValueError(f"role '{role}' needs userId: Graph assigns it only to users registered in Microsoft Entra ID")
        return role


class LobbyBypassSettings(_Contract):
    """Graph's lobbyBypassSettings: who skips the lobby."""

    scope: LobbyBypassScope | None = Field(default=None, description="Who bypasses the lobby (Graph's lobbyBypassScope).")
    is_dial_in_bypass_enabled: StrictBool | None = Field(default=None, description="Whether dial-in callers bypass it.")


class MeetingOptions(_Contract):
    """Meeting options, with Graph's property names and values; omitted ones keep Teams' defaults."""

    lobby_bypass_settings: LobbyBypassSettings | None = None
    allowed_presenters: OnlineMeetingPresenters | None = Field(default=None, description="Graph's onlineMeetingPresenters.")
    allow_meeting_chat: MeetingChatMode | None = Field(default=None, description="Graph's meetingChatMode.")
    is_entry_exit_announced: StrictBool | None = None
    record_automatically: StrictBool | None = None

    def to_graph(self) -> dict[str, Any]:
        """The options as onlineMeeting properties, only those the booking set."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Channel(_Contract):
    """The Teams channel the meeting is booked into (createOrGet's chatInfo). Fixed once the meeting exists."""

    thread_id: Annotated[
        str,
        Field(max_length=300, json_schema_extra={"pattern": _CHANNEL_THREAD_ID_SENT}),
        AfterValidator(_channel_thread_id),
    ] = Field(description="The channel's thread id, 19:...@thread.tacv2 or @thread.skype; percent-encoded is accepted.")
    message_id: MessageId | None = Field(
        default=None, description="The channel message to post the meeting under (Graph's chatInfo.messageId)."
    )
    reply_chain_message_id: MessageId | None = Field(
        default=None, description="The reply chain's root message (Graph's chatInfo.replyChainMessageId)."
    )

    def to_graph(self) -> dict[str, Any]:
        """Graph's chatInfo, only the members the booking set."""
        return self.model_dump(by_alias=True, exclude_none=True)


class CalendarOptions(_Contract):
    """The record's meeting as an Outlook event on the organizer's calendar, carrying a Teams meeting."""

    send_invitations: StrictBool = Field(
        description="true: the attendees are the event's attendees, and Exchange sends them the invitation, its updates "
        "and its cancellation. false: the event is on the organizer's calendar only; the source sends its own mail."
    )


class AttendanceOptions(_Contract):
    """What the source wants to hear after the meeting (shared.attendance); an object, so that more can join it."""

    report: StrictBool = Field(
        description="true: after the meeting's end the bridge reads Teams' attendance reports of the meeting and publishes "
        "one `attendance` result with every report and record (when the operator enabled it). Needs revision."
    )


class Booking(_Contract):
    """A booking message, schema version 1: one source record that should have one Teams meeting."""

    model_config = ConfigDict(
        title="Booking message (schema version 1)",
        json_schema_extra={
            "if": {"properties": {"action": {"const": "upsert"}}},
            "then": {"required": ["subject", "start", "end"]},
            # Booking._no_channel_for_calendar
            "not": {
                "required": ["calendar", "channel"],
                "properties": {"calendar": {"type": "object"}, "channel": {"type": "object"}},
            },
            # Booking._attendance_needs_revision
            "allOf": [
                {
                    "if": {
                        "required": ["attendance"],
                        "properties": {
                            "attendance": {"type": "object", "required": ["report"], "properties": {"report": {"const": True}}}
                        },
                    },
                    "then": {"required": ["revision"]},
                }
            ],
        },
    )

    schema_version: Annotated[Literal[1], BeforeValidator(_json_integer)] = Field(description="Always 1 for this contract.")
    source: SourceName = Field(description="The upstream system, 1-64 of A-Za-z0-9._- . With recordId it identifies the record.")
    record_id: RecordId = Field(
        description="The record's id in the source system: 1-256 characters, no control characters or line breaks."
    )
    revision: Revision | None = Field(
        default=None,
        description="The source's version of the record, increasing with every change. A booking older than the "
        "newest one applied is answered `superseded` and changes nothing; without it, order is delivery order.",
    )
    action: Literal["upsert", "cancel"] = Field(
        default="upsert",
        description="upsert creates the meeting or brings it in line with this booking; cancel deletes it.",
    )
    organizer_id: Guid = Field(description="The organizer's Microsoft Entra object id (a GUID, not a UPN).")
    subject: (
        Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT_LENGTH), AfterValidator(_one_line), AfterValidator(_not_blank)]
        | None
    ) = Field(default=None, validate_default=True, description="Required for upsert.")
    start: DateTimeWithOffset | None = Field(
        default=None, validate_default=True, description="Required for upsert; must carry a UTC offset."
    )
    end: DateTimeWithOffset | None = Field(
        default=None,
        validate_default=True,
        description=f"Required for upsert; after start, at most {MAX_DURATION_HOURS} hours later.",
    )
    attendees: list[Attendee] = Field(
        default_factory=list,
        max_length=MAX_ATTENDEES,
        description="Meeting participants; on update this is the full list (people left out are removed).",
    )
    options: MeetingOptions | None = Field(default=None, description="Meeting options, applied after creation.")
    channel: Channel | None = Field(
        default=None,
        description="Book the meeting into this Teams channel (the organizer must be a member). Fixed once the "
        "meeting exists: a later revision naming another channel is rejected; one without channel leaves it as it is.",
    )
    language: (
        Annotated[
            str,
            AfterValidator(_language_tag),
            Field(json_schema_extra={"pattern": f"^{_LANGUAGE_TAG.pattern}$", "maxLength": MAX_LANGUAGE_TAG_LENGTH}),
        ]
        | None
    ) = Field(
        default=None,
        description="BCP 47 language tag (de-DE, ja, pt-BR) for the meeting's invitation text (joinInformation), "
        "sent to Graph as Accept-Language; without it Graph's default (English) applies.",
    )
    calendar: CalendarOptions | None = Field(
        default=None,
        description="Make the meeting an Outlook event on the organizer's calendar (when the operator enabled it). A "
        "record keeps its mode: a later revision that adds or drops it is rejected while the record has a meeting. "
        "Not together with channel.",
    )
    attendance: AttendanceOptions | None = Field(
        default=None,
        description='Follow-ups after the meeting (when the operator enabled them): {"report": true} asks for one '
        "`attendance` result with Teams' attendance reports. Needs revision.",
    )

    @field_validator("subject", "start", "end")
    @classmethod
    def _required_for_upsert(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.data.get("action", "upsert") == "upsert":
            raise ValueError("is required when action is 'upsert'")
        return value

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        # Runs after _required_for_upsert, so a missing end here is one that cancel may omit.
        start = info.data.get("start")
        if end is None or start is None:
            return end
        if end <= start:
            raise ValueError("must be after start")
        if end - start > MAX_DURATION:
            raise ValueError(f"must be at most {MAX_DURATION_HOURS} hours after start")
        return end

    @model_validator(mode="after")
    def _no_channel_for_calendar(self) -> Booking:
        # An Outlook event's Teams meeting is made by Exchange in its own chat: POST /events has no chatInfo, and an
        # onlineMeeting's chatInfo cannot be PATCHed, so the event cannot be booked into a channel. Refused, never
        # created somewhere else than asked.
        if self.calendar is not None and self.channel is not None:
            reason = ValueError(
                "cannot be used with calendar: a calendar event's Teams meeting cannot be booked into a channel "
                "(send the booking without calendar to book it into the channel, or without channel for an event)"
            )
            raise ValidationError.from_exception_data(
                type(self).__name__, [{"type": "value_error", "loc": ("channel",), "input": None, "ctx": {"error": reason}}]
            )
        return self

    @field_validator("attendance")
    @classmethod
    def _attendance_needs_revision(cls, attendance: AttendanceOptions | None, info: ValidationInfo) -> AttendanceOptions | None:
        # The follow-up after the meeting belongs to the revision that asked for it, and is dropped once a newer one is
        # applied: without a revision the bridge could not tell. (A revision that is itself invalid is named on its own.)
        if attendance is not None and attendance.report and "revision" in info.data and info.data["revision"] is None:
            raise ValueError("needs revision: the report after the meeting is matched to the revision that asked for it")
        return attendance

    @field_validator("attendees")
    @classmethod
    def _unique_attendees(cls, attendees: list[Attendee]) -> list[Attendee]:
        seen: set[str] = set()
        for attendee in attendees:
            key = attendee.upn.lower()
            if key in seen:
                raise ValueError("must not list the same upn twice")
            seen.add(key)
        return attendees


def parse_booking(body: bytes) -> Booking:
    """Decode and validate one booking message body; raise InvalidBooking saying exactly what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidBooking("body_too_large", f"the message body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBooking("invalid_encoding", f"the message body is not UTF-8 (byte {error.start})") from None
    try:
        document = json.loads(
            text.removeprefix("\ufeff"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constants,
            parse_int=_json_number_integer,
        )
    except ValueError as error:
        raise InvalidBooking("invalid_json", f"the message body is not JSON: {error}") from None
    except RecursionError:
        # Python's own text here names its recursion limit and "a unicode string".
        raise InvalidBooking("invalid_json", "the message body nests arrays or objects too deeply to be a booking") from None
    if "\\ud" in text.lower() and _has_unpaired_surrogate(document):
        raise InvalidBooking(
            "invalid_json", "the message body escapes an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not text"
        )
    if not isinstance(document, dict):
        raise InvalidBooking(
            "invalid_booking", "the message body must be a JSON object", [FieldProblem(None, "must be an object")]
        )
    try:
        return Booking.model_validate(document)
    except ValidationError as error:
        raise InvalidBooking(
            "invalid_booking",
            "the booking message does not match schema version 1",
            field_problems(error),
            _valid_identity(document),
        ) from None


def field_problems(error: ValidationError) -> list[FieldProblem]:
    """Each problem pydantic found, said in the contract's words: the field's JSON path and what it must be.

    Pydantic's own texts name its internals (a regular expression, a Python class, "dictionary"); none of
    them reaches a result or a terminal."""
    return [_problem(detail) for detail in error.errors(include_url=False, include_input=False)]


def _valid_identity(document: dict[str, Any]) -> BookingIdentity:
    """The identifying fields that are valid on their own, so the source system can still match the answer."""
    valid = {}
    for name, adapter in _IDENTITY_ADAPTERS.items():
        alias = to_camel(name)
        if alias in document:
            try:
                valid[name] = adapter.validate_python(document[alias])
            except ValidationError:
                continue
    return BookingIdentity(**valid)


def _problem(detail: Any) -> FieldProblem:
    location = ".".join(str(part) for part in detail["loc"]) or None
    return FieldProblem(location, _reason(detail["type"], detail.get("ctx", {}), detail["msg"]))


# What each kind of pydantic error means, in the contract's words (a template over the error's context). Pydantic's own
# text for an impossible date-time (2026-02-30, hour 25, an offset of +25:00, year 0) quotes its parser.
_REASONS = {
    "string_type": "must be a JSON string",
    "int_type": "must be a JSON integer",
    "bool_type": "must be true or false",
    "list_type": "must be a JSON array",
    "model_type": "must be a JSON object",
    "datetime_parsing": f"must be a date and time that exists, as {_DATE_TIME_HINT}",
    "datetime_from_date_parsing": f"must be a date and time that exists, as {_DATE_TIME_HINT}",
    "missing": "is required",
    "extra_forbidden": "is not a field of schema version 1",
    "literal_error": "must be {expected}",
    "string_too_long": "must be at most {max_length} characters",
    "too_long": "must have at most {max_length} entries, not {actual_length}",
    "int_parsing_size": "is larger than any value this field takes",  # beyond a 64-bit integer, where no field's values are
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


def _reason(kind: str, context: dict[str, Any], message: str) -> str:
    if kind == "value_error":  # the contract's own validators, whose words are already the contract's
        return message.removeprefix("Value error, ")
    if kind == "string_too_short":
        return "must not be empty" if context["min_length"] == 1 else f"must be at least {context['min_length']} characters"
    return _REASONS.get(kind, "does not have the form schema version 1 gives this field").format(**context)


_IDENTITY_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "source": TypeAdapter(SourceName),
    "record_id": TypeAdapter(RecordId),
    "revision": TypeAdapter(Revision),
    "organizer_id": TypeAdapter(Guid),
}


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"the key {json.dumps(key)} appears twice in one object")
        document[key] = value
    return document


def _has_unpaired_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= character <= "\udfff" for character in value)
    if isinstance(value, dict):
        return any(_has_unpaired_surrogate(key) or _has_unpaired_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_unpaired_surrogate(item) for item in value)
    return False


# Longer than any integer a field takes (a revision is at most 19 digits), short enough for Python to convert: it
# refuses integers of more than sys.get_int_max_str_digits() digits, which JSON allows.
_LONGEST_INTEGER = 40
_TOO_LONG = 10**_LONGEST_INTEGER


def _json_number_integer(text: str) -> int:
    # A longer integer stands in as one just as far out of range, so the field it is in says what it must be
    # ("must be at most ...") instead of the body being called not JSON in Python's words.
    if len(text) <= _LONGEST_INTEGER:
        return int(text)
    return -_TOO_LONG if text.startswith("-") else _TOO_LONG


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
