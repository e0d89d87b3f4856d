"""Teams' attendance reports as the `attendance` result carries them: mapped from Graph, bounded, split into parts (pure).

Graph's meetingAttendanceReport and its attendanceRecords keep Graph's own names. Graph's answer is outside input:
a value of the wrong type is left out (null) and texts are bounded, but a report or a record that is not an object
at all is a bad answer (MalformedAttendance), never a record dropped without a word.

One result must fit in one Service Bus message (MAX_PART_BYTES leaves room below the Standard tier's limit). The
attendance of a large meeting may not: it is then split into parts, each its own result message (`part` of `parts`),
cut between records, so that every record is in exactly one part; a report whose records span parts is repeated in
each with its share of them, and its id ties them together. The order of reports and records is fixed (by time, then
by content), so a redelivered follow-up cuts the same parts and repeats their message ids. A record carries at most
MAX_INTERVALS_PER_RECORD join/leave intervals (its total seconds stay whole; `moreAttendanceIntervals` counts the
rest), which bounds a record far below a part. One follow-up holds at most MAX_REPORTS reports, MAX_RECORDS records
and MAX_ATTENDANCE_BYTES of their JSON (an AttendanceBudget), far above any meeting Teams holds: beyond them Graph's
answer is AttendanceTooLarge, which the follow-up answers as such, never a record left out without a word.

The records name people, their e-mail addresses above all: the source's own data, which goes to the result and
nowhere else (never a log line, a span or a metric).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from pydantic import Field

from shared.contract_model import ContractModel
from shared.meeting import MAX_GRAPH_TEXT_LENGTH
from shared.wire_format import graph_instant

# What one result message's `attendance` may take: the rest of a result is a few KiB, Service Bus Standard's limit 256 KiB.
MAX_PART_BYTES = 192 * 1024
MAX_INTERVALS_PER_RECORD = 100
# What one follow-up holds at most. Graph lists at most the 50 most recent reports; Teams meetings take at most
# 1,000 interactive attendees (view-only ones beyond), each recorded once per report.
MAX_REPORTS = 100
MAX_RECORDS = 20_000
MAX_ATTENDANCE_BYTES = 4 * 1024 * 1024
# Longer than any real address (RFC 5321 allows 254), display name, role or id.
MAX_EMAIL_ADDRESS_LENGTH = 320
MAX_DISPLAY_NAME_LENGTH = 256
MAX_ROLE_LENGTH = 32
MAX_USER_ID_LENGTH = 128
# A channel's report list holds every meeting of the channel, and a report names no meeting (only its times): a report
# belongs to the booked meeting when it started from EARLY_JOIN before the meeting's start up to LATE_START after it
# (people join a little early or late), so a meeting of the channel that starts later while this one runs is not it.
EARLY_JOIN = timedelta(minutes=15)
LATE_START = timedelta(minutes=15)
_LAST = datetime.max.replace(tzinfo=UTC)


class MalformedAttendance(ValueError):
    """Graph answered success, but with a report or a record that is not an object (no value is quoted)."""


class AttendanceTooLarge(ValueError):
    """Graph answered with more reports, records or bytes of them than one follow-up holds (the bound is named)."""


@dataclass
class AttendanceBudget:
    """What one follow-up may still hold, taken as the reports are read: records, and bytes of their JSON."""

    records: int = MAX_RECORDS
    size: int = MAX_ATTENDANCE_BYTES


class AttendanceInterval(ContractModel):
    """One stretch between joining and leaving the meeting (Graph's attendanceInterval)."""

    join_date_time: datetime | None = None
    leave_date_time: datetime | None = None
    duration_in_seconds: int | None = None


class AttendanceRecord(ContractModel):
    """One participant of a report (Graph's attendanceRecord)."""

    email_address: str | None = Field(default=None, description="The participant's e-mail address, as Teams recorded it.")
    display_name: str | None = Field(default=None, description="Graph's identity.displayName.")
    user_id: str | None = Field(default=None, description="Graph's identity.id: the Entra object id of a user in the tenant.")
    role: str | None = Field(default=None, description="Graph's role: Organizer, Presenter, Attendee or None.")
    total_attendance_in_seconds: int | None = None
    attendance_intervals: list[AttendanceInterval] = Field(
        default_factory=list, description=f"Join and leave times, the first {MAX_INTERVALS_PER_RECORD}."
    )
    more_attendance_intervals: int = Field(default=0, description="How many further intervals were left out.")


class AttendanceReport(ContractModel):
    """One session of the meeting: Teams makes a report each time the meeting ends (Graph's meetingAttendanceReport)."""

    id: str
    meeting_start_date_time: datetime | None = None
    meeting_end_date_time: datetime | None = None
    total_participant_count: int | None = None
    attendance_records: list[AttendanceRecord] = Field(
        default_factory=list, description="The report's records in this part (all of them when parts is 1)."
    )


class Attendance(ContractModel):
    """Who attended the record's meeting: its reports, in one result or split over several (part of parts)."""

    meeting_id: str = Field(description="The onlineMeeting the reports are of (the result's meeting.id when booked).")
    reports: list[AttendanceReport] = Field(default_factory=list, description="Oldest first; none when Teams made none.")
    part: int = Field(default=1, description="Which part of the attendance this result is, from 1.")
    parts: int = Field(default=1, description="How many results the attendance was split into.")


def report_start(report: Any) -> datetime | None:
    """When a report's session started, as Graph says (None if it does not say it readably)."""
    return graph_instant(report.get("meetingStartDateTime")) if isinstance(report, dict) else None


def in_meeting_window(report: Any, start: datetime, end: datetime) -> bool:
    """Whether a channel's report is the booked meeting's: it started from EARLY_JOIN before the meeting's start up to
    LATE_START after it, and before its end."""
    started = report_start(report)
    if started is None or started >= end:
        return False
    return abs(started - start) <= (EARLY_JOIN if started < start else LATE_START)


def report_id(report: Any) -> str:
    """A listed report's id, to read its records with; MalformedAttendance if it has none."""
    found = _text(report.get("id"), MAX_GRAPH_TEXT_LENGTH) if isinstance(report, dict) else None
    if found is None:
        raise MalformedAttendance("an attendance report is not an object with an id")
    return found


def listed_reports(listed: list[Any]) -> list[Any]:
    """Graph's list of reports: MalformedAttendance when it lists a report twice (pages that repeat themselves),
    else AttendanceTooLarge when it runs over MAX_REPORTS."""
    if len({report_id(report) for report in listed}) < len(listed):
        raise MalformedAttendance("Graph lists the same attendance report twice")
    if len(listed) > MAX_REPORTS:
        raise AttendanceTooLarge(f"Graph lists more than {MAX_REPORTS} attendance reports of the meeting")
    return listed


def report_from_graph(report: Any, records: Iterable[Any], budget: AttendanceBudget | None = None) -> AttendanceReport:
    """A report and its records (every page, taken one by one) as the result carries them, records in a fixed order;
    their number and size are taken from `budget`: AttendanceTooLarge, and no record taken further, past it."""
    identifier = report_id(report)
    budget = budget or AttendanceBudget()
    keyed: list[tuple[str, AttendanceRecord]] = []
    for item in records:
        budget.records -= 1
        if budget.records < 0:
            raise AttendanceTooLarge(f"the meeting's attendance reports hold more than {MAX_RECORDS} records")
        record = _record(item)
        key = record.model_dump_json(by_alias=True)
        budget.size -= len(key) + 1
        if budget.size < 0:
            raise AttendanceTooLarge(
                f"the meeting's attendance records take more than {MAX_ATTENDANCE_BYTES // 2**20} MiB of JSON"
            )
        keyed.append((key, record))
    keyed.sort(key=itemgetter(0))
    mapped = [record for _, record in keyed]
    return AttendanceReport(
        id=identifier,
        meeting_start_date_time=graph_instant(report.get("meetingStartDateTime")),
        meeting_end_date_time=graph_instant(report.get("meetingEndDateTime")),
        total_participant_count=_count(report.get("totalParticipantCount")),
        attendance_records=mapped,
    )


def in_order(reports: list[AttendanceReport]) -> list[AttendanceReport]:
    """Oldest session first; a report without a start last; the id breaks ties."""
    return sorted(reports, key=lambda report: (report.meeting_start_date_time or _LAST, report.id))


def attendance_parts(meeting_id: str, reports: list[AttendanceReport], budget: int = MAX_PART_BYTES) -> list[Attendance]:
    """The attendance in as few parts as fit `budget` bytes of JSON each, cut between records, none left out."""
    envelope = _size(Attendance(meeting_id=meeting_id, part=10**6, parts=10**6))
    parts: list[list[AttendanceReport]] = [[]]
    size = envelope
    for report in reports:
        header = report.model_copy(update={"attendance_records": []})
        header_size = _size(header) + 1
        if parts[-1] and size + header_size > budget:
            parts.append([])
            size = envelope
        taken: list[AttendanceRecord] = []
        size += header_size
        for record in report.attendance_records:
            record_size = _size(record) + 1
            if size + record_size > budget and (taken or parts[-1]):
                if taken:  # else the report starts in the next part, not as an empty piece here
                    parts[-1].append(header.model_copy(update={"attendance_records": taken}))
                parts.append([])
                taken, size = [], envelope + header_size
            taken.append(record)
            size += record_size
        parts[-1].append(header.model_copy(update={"attendance_records": taken}))
    return [
        Attendance(meeting_id=meeting_id, reports=part, part=number, parts=len(parts)) for number, part in enumerate(parts, 1)
    ]


def record_count(attendance: Attendance) -> int:
    return sum(len(report.attendance_records) for report in attendance.reports)


def _record(record: Any) -> AttendanceRecord:
    if not isinstance(record, dict):
        raise MalformedAttendance("an attendance record is not an object")
    identity = _object(record.get("identity"))
    listed = record.get("attendanceIntervals")
    intervals: list[Any] = listed if isinstance(listed, list) else []
    kept = [_interval(interval) for interval in intervals[:MAX_INTERVALS_PER_RECORD]]
    return AttendanceRecord(
        email_address=_text(record.get("emailAddress"), MAX_EMAIL_ADDRESS_LENGTH),
        display_name=_text(identity.get("displayName"), MAX_DISPLAY_NAME_LENGTH),
        user_id=_text(identity.get("id"), MAX_USER_ID_LENGTH),
        role=_text(record.get("role"), MAX_ROLE_LENGTH),
        total_attendance_in_seconds=_count(record.get("totalAttendanceInSeconds")),
        attendance_intervals=kept,
        more_attendance_intervals=max(0, len(intervals) - MAX_INTERVALS_PER_RECORD),
    )


def _interval(interval: Any) -> AttendanceInterval:
    document = _object(interval)
    return AttendanceInterval(
        join_date_time=graph_instant(document.get("joinDateTime")),
        leave_date_time=graph_instant(document.get("leaveDateTime")),
        duration_in_seconds=_count(document.get("durationInSeconds")),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str | None:
    # Longer than any real value of the field is not one; an unpaired surrogate (JSON can escape one) is not text.
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _count(value: Any) -> int | None:
    """A whole number Graph declares Int32 (true and 1.5 are not one)."""
    return value if type(value) is int and 0 <= value <= 2**31 - 1 else None


def _size(model: ContractModel) -> int:
    return len(model.model_dump_json(by_alias=True).encode("utf-8"))
