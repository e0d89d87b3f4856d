"""README's first command: the real pipeline on the committed samples, with no Azure account."""

from __future__ import annotations

import json

from shared.external_id import derive_external_id
from tests.bookings import booking
from tests.cli.command import run_cli


def test_simulate_answers_every_committed_sample() -> None:
    completed = run_cli("simulate", "samples/", "--format", "jsonl")

    assert completed.returncode == 0, completed.stderr
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [(r["bookingMessageId"], r["status"]) for r in results] == [
        ("samples/01-new-booking.json", "created"),
        ("samples/02-repeat-of-new-booking.json", "existing"),
        ("samples/03-reschedule.json", "updated"),
        ("samples/04-invalid.json", "rejected"),
        ("samples/05-unknown-organizer.json", "failed"),
        ("samples/06-late-retry-of-revision-1.json", "superseded"),
        ("samples/07-cancel.json", "cancelled"),
        ("samples/08-with-options.json", "created"),
        ("samples/09-class-in-channel.json", "created"),
        ("samples/10-invitation-in-japanese.json", "created"),
        ("samples/11-calendar-new-booking.json", "created"),
        ("samples/12-calendar-reschedule.json", "updated"),
        ("samples/13-calendar-cancel.json", "cancelled"),
        ("samples/14-calendar-organizer-only.json", "created"),
        ("samples/15-attendance-report.json", "created"),
        ("samples/15-attendance-report.json", "attendance"),
    ]
    new, repeat, reschedule, invalid, unknown, late, cancel, options, channel, japanese, *calendar, booked, attended = results
    [report] = attended["attendance"]["reports"]
    assert attended["attendance"]["meetingId"] == booked["meeting"]["id"]
    assert {record["emailAddress"] for record in report["attendanceRecords"]} >= {
        "student-117@lms.example",
        "student-204@lms.example",
    }
    assert report["totalParticipantCount"] == 3 and attended["error"] is None
    assert calendar[0]["meeting"]["eventId"] and calendar[0]["meeting"]["joinWebUrl"] == calendar[1]["meeting"]["joinWebUrl"]
    assert calendar[1]["changedFields"] == ["start", "end"]
    assert calendar[2]["meetingExisted"] is True
    assert new["meeting"]["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert repeat["meeting"]["id"] == reschedule["meeting"]["id"] == new["meeting"]["id"]
    assert reschedule["changedFields"] == ["subject", "start", "end"]
    assert (late["appliedRevision"], late["meeting"]) == (2, None)
    assert (cancel["meetingExisted"], cancel["meeting"]) == (True, None)
    assert options["changedFields"] == [
        "options.lobbyBypassSettings",
        "options.allowedPresenters",
        "options.allowMeetingChat",
        "options.isEntryExitAnnounced",
    ]
    assert new["externalId"] == derive_external_id("crm-eu", "BK-10023")
    assert {d["field"] for d in invalid["error"]["details"]} == {"start", "room"}
    assert (unknown["error"]["httpStatus"], unknown["error"]["code"]) == (404, "NotFound")
    assert channel["meeting"]["chatThreadId"] == "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"
    assert japanese["meeting"]["joinInformation"]["contentType"] == "html"
    assert "会議 ID" in japanese["meeting"]["joinInformation"]["content"]
    assert "Meeting ID" in new["meeting"]["joinInformation"]["content"]

    summaries = completed.stderr.splitlines()
    assert summaries[0].startswith("created    crm-eu/BK-10023")
    assert "invalid_booking: start: must be an ISO 8601 date-time" in summaries[3]
    assert "revision 2 already applied; nothing changed" in summaries[5]
    assert "meeting deleted" in summaries[6]
    assert "channel=19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2" in summaries[8]
    assert "invitation=Microsoft Teams 会議に参加" in summaries[9]
    assert summaries[-1] == "15 message(s), 15 answered, 0 left for redelivery; 1 attendance follow-up(s) run at once"


def test_simulate_reads_json_lines_from_stdin_and_shows_progress() -> None:
    lines = "".join(json.dumps(booking(recordId=f"BK-{n}")) + "\n" for n in range(25))

    completed = run_cli("simulate", "-", "--format", "jsonl", stdin=lines)

    assert completed.returncode == 0, completed.stderr
    assert [json.loads(line)["status"] for line in completed.stdout.splitlines()] == ["created"] * 25
    assert "progress 25/25" in completed.stderr


def test_simulate_names_a_missing_input() -> None:
    completed = run_cli("simulate", "no-such-folder/")
    assert completed.returncode == 2
    assert "no such file or folder: no-such-folder/" in completed.stderr


def test_external_id_command_prints_the_derivation() -> None:
    completed = run_cli("external-id", "crm-eu", "BK-10023")
    assert (completed.returncode, completed.stdout) == (0, "5e106aa4-0b14-5bcb-b472-250d61821683\n")
