"""Attendance reports as the result carries them, and when the follow-up looks (pure: no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.attendance import FIRST_LOOK, LAST_LOOK, next_look
from shared.attendance_report import (
    EARLY_JOIN,
    LATE_START,
    MAX_INTERVALS_PER_RECORD,
    MAX_REPORTS,
    AttendanceTooLarge,
    MalformedAttendance,
    attendance_parts,
    in_meeting_window,
    in_order,
    listed_reports,
    report_from_graph,
)
from tests.follow_ups import record

END = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
REPORT = {
    "id": "c9b6db1c-d5eb-427d-a5c0-20088d9b22d7",
    "totalParticipantCount": 2,
    "meetingStartDateTime": "2021-10-05T04:38:23.945Z",
    "meetingEndDateTime": "2021-10-05T04:43:49.77Z",
}


def test_looks_grow_from_ten_minutes_after_the_end_to_a_day_then_stop() -> None:
    looks = []
    after = END
    while (later := next_look(END, after)) is not None:
        looks.append(later - END)
        after = later
    assert looks == [timedelta(minutes=m) for m in (10, 20, 40, 80, 160, 320, 640, 1280)] + [LAST_LOOK]
    assert (looks[0], looks[-1]) == (FIRST_LOOK, LAST_LOOK)


def test_a_booking_applied_long_after_its_meeting_looks_once_more_at_most() -> None:
    assert next_look(END, END + timedelta(hours=23)) == END + LAST_LOOK
    assert next_look(END, END + LAST_LOOK) is None


def test_graphs_documented_record_maps_with_graphs_names() -> None:
    """The example of List attendanceRecords (Graph v1.0)."""
    graph_record = {
        "emailAddress": "frederick.cormier@contoso.com",
        "totalAttendanceInSeconds": 322,
        "role": "Organizer",
        "identity": {"id": "dc17674c-81d9-4adb-bfb2-8f6a442e4623", "displayName": "Frederick Cormier", "tenantId": None},
        "attendanceIntervals": [
            {
                "joinDateTime": "2021-10-05T04:38:27.6027225Z",
                "leaveDateTime": "2021-10-05T04:43:49.7702391Z",
                "durationInSeconds": 322,
            }
        ],
    }

    report = report_from_graph(REPORT, [graph_record])

    assert json.loads(report.model_dump_json(by_alias=True)) == {
        "id": "c9b6db1c-d5eb-427d-a5c0-20088d9b22d7",
        "meetingStartDateTime": "2021-10-05T04:38:23.945000Z",
        "meetingEndDateTime": "2021-10-05T04:43:49.770000Z",
        "totalParticipantCount": 2,
        "attendanceRecords": [
            {
                "emailAddress": "frederick.cormier@contoso.com",
                "displayName": "Frederick Cormier",
                "userId": "dc17674c-81d9-4adb-bfb2-8f6a442e4623",
                "role": "Organizer",
                "totalAttendanceInSeconds": 322,
                "attendanceIntervals": [
                    {
                        "joinDateTime": "2021-10-05T04:38:27.602722Z",
                        "leaveDateTime": "2021-10-05T04:43:49.770239Z",
                        "durationInSeconds": 322,
                    }
                ],
                "moreAttendanceIntervals": 0,
            }
        ],
    }


def test_a_value_of_the_wrong_type_is_left_out_and_the_record_kept() -> None:
    odd = {
        "emailAddress": 7,
        "role": ["Organizer"],
        "identity": "me",
        "totalAttendanceInSeconds": True,
        "attendanceIntervals": {},
    }

    report = report_from_graph({**REPORT, "totalParticipantCount": "2", "meetingStartDateTime": 5}, [odd])

    [kept] = report.attendance_records
    assert kept.model_dump(exclude_defaults=True) == {}
    assert (report.total_participant_count, report.meeting_start_date_time) == (None, None)


@pytest.mark.parametrize(("report", "records"), [({"totalParticipantCount": 1}, []), (REPORT, ["ada@contoso.com"]), ([], [])])
def test_a_report_or_record_that_is_not_an_object_is_a_bad_answer_not_a_record_dropped(report: Any, records: list[Any]) -> None:
    with pytest.raises(MalformedAttendance):
        report_from_graph(report, records)


def test_a_list_that_names_a_report_twice_is_a_bad_answer_even_past_the_most_reports() -> None:
    """Pages that repeat themselves (a next link back to a page read) are not a meeting of many sessions: the bridge
    cannot read them (redelivered, then gave up), rather than answering attendance_too_large for good."""
    listed = [{**REPORT, "id": f"report-{n % 3}"} for n in range(MAX_REPORTS + 1)]

    with pytest.raises(MalformedAttendance):
        listed_reports(listed)
    with pytest.raises(AttendanceTooLarge):
        listed_reports([{**REPORT, "id": f"report-{n}"} for n in range(MAX_REPORTS + 1)])


def test_a_record_keeps_its_first_intervals_and_counts_the_rest() -> None:
    [kept] = report_from_graph(REPORT, [record("ada@contoso.com", intervals=MAX_INTERVALS_PER_RECORD + 7)]).attendance_records

    assert len(kept.attendance_intervals) == MAX_INTERVALS_PER_RECORD
    assert kept.more_attendance_intervals == 7
    assert kept.total_attendance_in_seconds == 1500


def test_records_and_reports_come_in_a_fixed_order_whatever_graphs() -> None:
    people = [record(f"person-{n}@contoso.com") for n in range(5)]
    later = {**REPORT, "id": "b", "meetingStartDateTime": "2021-10-06T04:38:23Z"}

    one = in_order([report_from_graph(later, people), report_from_graph(REPORT, people[::-1])])
    two = in_order([report_from_graph(REPORT, people), report_from_graph(later, people[::-1])])

    assert one == two
    assert [report.id for report in one] == [REPORT["id"], "b"]


@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.integers(2_000, 20_000))
def test_every_record_is_in_exactly_one_part_and_every_part_fits(sizes: list[int], budget: int) -> None:
    reports = [
        report_from_graph(
            {**REPORT, "id": f"report-{number}"},
            [record(f"person-{number}-{n}@contoso.com", intervals=n % 4) for n in range(size)],
        )
        for number, size in enumerate(sizes)
    ]

    parts = attendance_parts("meeting", reports, budget)

    found = [(report.id, r.email_address) for part in parts for report in part.reports for r in report.attendance_records]
    expected = [(report.id, r.email_address) for report in reports for r in report.attendance_records]
    assert found == expected
    assert all(len(part.model_dump_json(by_alias=True).encode()) <= budget for part in parts)
    assert [(part.part, part.parts) for part in parts] == [(n, len(parts)) for n in range(1, len(parts) + 1)]
    assert {report.id for part in parts for report in part.reports} == {report.id for report in reports}
    empty = {report.id for report in reports if not report.attendance_records}
    assert all(piece.attendance_records or piece.id in empty for part in parts for piece in part.reports)


def test_an_attendance_that_fits_is_one_part() -> None:
    [only] = attendance_parts("meeting", [report_from_graph(REPORT, [record("ada@contoso.com")])])
    assert (only.part, only.parts, only.meeting_id) == (1, 1, "meeting")


@pytest.mark.parametrize(
    ("started", "belongs"),
    [
        (timedelta(minutes=-16), False),
        (-EARLY_JOIN, True),
        (timedelta(0), True),
        (LATE_START, True),
        (LATE_START + timedelta(seconds=1), False),
        (timedelta(minutes=30), False),
    ],
)
def test_a_channel_report_belongs_to_the_meeting_that_started_around_its_times(started: timedelta, belongs: bool) -> None:
    start = END - timedelta(minutes=30)
    moment = (start + started).isoformat().replace("+00:00", "Z")
    assert in_meeting_window({**REPORT, "meetingStartDateTime": moment}, start, END) is belongs


def test_a_channel_report_without_a_readable_start_is_not_the_meetings() -> None:
    assert in_meeting_window({**REPORT, "meetingStartDateTime": None}, END - timedelta(minutes=30), END) is False
