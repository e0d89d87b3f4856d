"""A file whose content is the other kind than its name says (.json holding JSON lines, .jsonl holding one pretty
object) is read as what it holds, with a warning that says how to name it, instead of every line rejected as not JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridgectl.exit_codes import EXIT_OK
from tests.bookings import REPO_ROOT, booking
from tests.cli.command import run_cli
from tests.cli.fakes import Broker, run

PRETTY = (REPO_ROOT / "samples" / "01-new-booking.json").read_text(encoding="utf-8")


def _json_lines(count: int) -> str:
    return "".join(json.dumps(booking(recordId=f"BK-{n}")) + "\n" for n in range(count))


def test_a_json_file_holding_json_lines_is_read_line_by_line_with_a_hint(tmp_path: Path) -> None:
    misnamed = tmp_path / "export.json"
    misnamed.write_text(_json_lines(3))

    completed = run_cli("simulate", str(misnamed))

    assert completed.returncode == EXIT_OK, completed.stderr
    warning, summary = completed.stderr.splitlines()
    assert warning == (
        f"warning: {misnamed} holds 3 JSON lines, not one JSON message; read as one message per line. Name it .jsonl"
    )
    assert summary == "3 message(s), 3 answered, 0 left for redelivery"
    assert [line.split()[0] for line in completed.stdout.splitlines()] == ["created"] * 3
    assert completed.stdout.splitlines()[2].endswith(f"({misnamed}:3)")


def test_a_jsonl_file_holding_one_pretty_object_is_read_as_one_message_with_a_hint(tmp_path: Path) -> None:
    misnamed = tmp_path / "booking.jsonl"
    misnamed.write_text(PRETTY)

    completed = run_cli("simulate", str(misnamed))

    assert completed.returncode == EXIT_OK, completed.stderr
    warning, summary = completed.stderr.splitlines()
    assert warning == (
        f"warning: {misnamed} holds one JSON object over {len(PRETTY.strip().splitlines())} lines, not JSON lines (one "
        "message per line); read as one message. Name it .json, or compact it with: jq -c ."
    )
    assert summary == "1 message(s), 1 answered, 0 left for redelivery"
    assert completed.stdout.startswith("created    crm-eu/BK-10023 ")


def test_send_reads_a_misnamed_file_the_same_way(broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    misnamed = tmp_path / "export.json"
    misnamed.write_text(_json_lines(2))

    code, out, err = run(capsys, "send", str(misnamed), "--dry-run")

    assert code == EXIT_OK
    assert err.splitlines()[0] == (
        f"warning: {misnamed} holds 2 JSON lines, not one JSON message; read as one message per line. Name it .jsonl"
    )
    sent = [json.loads(line) for line in out.splitlines()]
    assert [(line["input"], line["applicationProperties"]["recordId"]) for line in sent] == [
        (f"{misnamed}:1", "BK-0"),
        (f"{misnamed}:2", "BK-1"),
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("booking.json", PRETTY),
        ("bookings.jsonl", _json_lines(2)),
        ("broken.json", '{"schemaVersion": 1,\n"source": \n'),
        ("mixed.json", json.dumps(booking()) + "\nnot json\n"),
    ],
    ids=["pretty .json", ".jsonl", "broken JSON over lines", "lines that are not all JSON"],
)
def test_files_as_named_or_not_json_at_all_get_no_hint(name: str, content: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(content)

    completed = run_cli("simulate", str(tmp_path / name))

    assert "warning" not in completed.stderr
