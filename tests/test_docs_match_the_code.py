"""What README.md and docs/operations.md list and count is what the code does: the statuses a result can have and
`results --status` takes, and the results the fully local walkthrough (mode 2) ends with."""

from __future__ import annotations

import json
import re
import textwrap
from collections import defaultdict
from pathlib import Path

from bridgectl.inputs import read_inputs
from bridgectl.queues.send import to_booking_message, validate_inputs
from shared.graph_client import GraphClient
from shared.inbound import InboundMessage
from shared.pipeline import BookingPipeline
from shared.publisher import to_service_bus_message
from shared.record_state import MemoryRecordStateStore
from shared.result import ResultMessage, ResultStatus
from shared.settings import load_settings
from simulator import GraphSimulator
from tests.bookings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
OPERATIONS = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
STATUSES = [status.value for status in ResultStatus]
# A row of the walkthrough's table: | `status` | how many | the samples' numbers |
TABLE_ROW = re.compile(r"^ *\| `(\w+)` \| (\d+) \| ([\d, ]+) \|$", re.MULTILINE)


def test_the_status_filter_lists_every_status() -> None:
    [listed] = re.findall(r"`--status` \(([^)]*)\)", OPERATIONS)
    assert [status.strip() for status in listed.split(",")] == STATUSES


def test_the_readme_names_every_status() -> None:
    [paragraph] = [block for block in README.split("\n\n") if "publishes one **result message**" in block]
    assert [word for word in re.findall(r"`(\w+)`", paragraph) if word in STATUSES] == STATUSES


class _ResultsQueue:
    """The results queue as Config.json sets it up, duplicate detection on the message id: each result kept once, by
    the sample it answers."""

    def __init__(self) -> None:
        self.by_status: dict[str, list[str]] = defaultdict(list)
        self.message_ids: set[str] = set()
        self.answering = ""

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None:
        message_id = str(to_service_bus_message(result, correlation_id, booking_key).message_id)
        if message_id not in self.message_ids:
            self.message_ids.add(message_id)
            self.by_status[result.status.value].append(self.answering)

    def close(self) -> None:
        """Nothing held."""


def test_the_fully_local_walkthrough_states_the_results_it_ends_with(sim: GraphSimulator, token: str) -> None:
    """Mode 2 sends samples/ with `send --skip-invalid` to the function, whose settings are the walkthrough's JSON and
    whose Graph is `python -m simulator` (every GUID-shaped user exists); its table must be what that answers, with
    the message ids `send` gives and the results queue's duplicate detection, and `results --max` must wait for no
    more results than come."""
    section = OPERATIONS.split("### Mode 2", 1)[1].split("\n## ", 1)[0]
    [settings_block] = [block for block in re.findall(r"```json\n(.*?)```", section, re.DOTALL) if "Values" in block]
    settings = load_settings(json.loads(textwrap.dedent(settings_block))["Values"])
    rows = TABLE_ROW.findall(section)
    documented = {status: samples.split(", ") for status, _, samples in rows}
    counts = {status: int(count) for status, count, _ in rows}
    [shown] = re.findall(r"results --wait \d+ --max (\d+)", section)
    valid, _ = validate_inputs(read_inputs([str(REPO_ROOT / "samples")]))
    results_queue = _ResultsQueue()
    pipeline = BookingPipeline(
        GraphClient(sim.graph_base_url, lambda: token),
        results_queue,
        MemoryRecordStateStore(),
        calendar_events=settings.calendar_events_enabled,
    )

    for item in valid:
        results_queue.answering = Path(item.label).name[:2]
        message = to_booking_message(item)
        pipeline.handle(
            InboundMessage(body=item.body, message_id=str(message.message_id), delivery_count=1, session_id=message.session_id)
        )
    pipeline.close()

    assert dict(results_queue.by_status) == documented
    assert counts == {status: len(samples) for status, samples in documented.items()}
    assert int(shown) == sum(counts.values())
