"""Producer-controlled text never reaches the operator's terminal raw: `dlq list` escapes every cell."""

from __future__ import annotations

import pytest

from tests.cli.fakes import DLQ, Broker, ReceivedStandIn, run


def test_dlq_list_escapes_a_producers_terminal_controls(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = ReceivedStandIn(
        b"<not json/>",
        sequence_number=7,
        message_id="m7\x1b]0;owned\x07\x1b[2J",  # set the window title, clear the screen
        dead_letter_reason="MaxDeliveryCountExceeded",
        application_properties={"source": "erp", "recordId": "R-7\r\nfake  row  forged"},
    )
    broker.queues[DLQ] = [hostile]
    _, out, _ = run(capsys, "dlq", "list")

    assert "\x1b" not in out and "\x07" not in out
    assert "\r" not in out
