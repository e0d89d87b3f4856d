"""`external-id` prints an id only for a record the contract accepts: source and recordId checked as a booking's are."""

from __future__ import annotations

import pytest

from bridgectl.exit_codes import EXIT_OK, EXIT_USAGE
from tests.cli.fakes import run
from tests.test_external_id import VECTORS


@pytest.mark.parametrize(("source", "record_id", "expected"), VECTORS)
def test_it_prints_the_published_vectors(source: str, record_id: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "external-id", source, record_id) == (EXIT_OK, expected + "\n", "")


@pytest.mark.parametrize(
    ("source", "record_id", "refused"),
    [
        ("", "BK-1", "error: SOURCE '': must be 1-64 of A-Za-z0-9._- (ASCII letters, digits, dot, underscore, hyphen)"),
        ("bad source!", "BK-1", "error: SOURCE 'bad source!': must be 1-64 of A-Za-z0-9._-"),
        ("s" * 65, "BK-1", f"error: SOURCE '{'s' * 65}': must be 1-64 of A-Za-z0-9._-"),
        ("crm\teu", "BK-1", "error: SOURCE 'crm\\teu': must be 1-64 of A-Za-z0-9._-"),
        ("crm-eu", "BK\t1", "error: RECORD_ID 'BK\\t1': must not contain control characters or line breaks"),
        ("crm-eu", "", "error: RECORD_ID '': must not be empty"),
        ("crm-eu", "r" * 257, f"error: RECORD_ID '{'r' * 257}': must be at most 256 characters"),
        ("crm-eu\n", "BK-1", "error: SOURCE 'crm-eu\\n': must be 1-64 of A-Za-z0-9._-"),
        ("crm-eu", "BK-1\x1b[2J", "error: RECORD_ID 'BK-1\\x1b[2J': must not contain control characters"),
    ],
)
def test_a_record_the_contract_refuses_has_no_external_id(
    source: str, record_id: str, refused: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "external-id", source, record_id)

    assert (code, out) == (EXIT_USAGE, "")
    [line] = err.splitlines()
    assert refused in line
    assert "\x1b" not in err and "\t" not in err


def test_both_halves_are_named_when_both_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "external-id", "bad source!", "")
    assert (code, out) == (EXIT_USAGE, "")
    assert [line.split(" ", 2)[1] for line in err.splitlines()] == ["SOURCE", "RECORD_ID"]
