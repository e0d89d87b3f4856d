"""What README.md and docs/operations.md list and count is what the code does: the statuses a result can have and
`results --status` takes, and the results the fully local walkthrough (mode 2) ends with."""

from __future__ import annotations

import json
import re
import textwrap
from collections import defaultdict
from pathlib import Path

from bridgectl.inputs import read_inputs
from bridgectl.queues.send import validate_inputs
from shared.external_id import derive_external_id
from shared.graph_client import GraphClient
from shared.inbound import InboundMessage
from shared.pipeline import BookingPipeline
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


class _Answers:
    """The result sink the walkthrough reads with `results`: each result, by the sample it answers."""

    def __init__(self) -> None:
        self.by_status: dict[str, list[str]] = defaultdict(list)

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None:
        self.by_status[result.status.value].append(Path(correlation_id).name[:2])

    def close(self) -> None:
        """Nothing held."""


def test_the_fully_local_walkthrough_states_the_results_it_ends_with(sim: GraphSimulator, token: str) -> None:
    """Mode 2 sends samples/ with `send --skip-invalid` to the function, whose settings are the walkthrough's JSON and
    whose Graph is `python -m simulator` (every GUID-shaped user exists); its table must be what that answers."""
    section = OPERATIONS.split("### Mode 2", 1)[1].split("\n## ", 1)[0]
    [settings_block] = [block for block in re.findall(r"```json\n(.*?)```", section, re.DOTALL) if "Values" in block]
    settings = load_settings(json.loads(textwrap.dedent(settings_block))["Values"])
    documented = {
        status: samples.split(", ")
        for status, _, samples in re.findall(r"^ *\| `(\w+)` \| (\d+) \| ([\d, ]+) \|$", section, re.M)
    }
    counts = {status: int(count) for status, count, _ in re.findall(r"^ *\| `(\w+)` \| (\d+) \| ([\d, ]+) \|$", section, re.M)}
    [shown] = re.findall(r"results --wait \d+ --max (\d+)", section)
    valid, _ = validate_inputs(read_inputs([str(REPO_ROOT / "samples")]))
    answers = _Answers()
    pipeline = BookingPipeline(
        GraphClient(sim.graph_base_url, lambda: token),
        answers,
        MemoryRecordStateStore(),
        calendar_events=settings.calendar_events_enabled,
    )

    for item in valid:
        session_id = derive_external_id(item.booking.source, item.booking.record_id)
        message_id = str(Path(item.label).relative_to(REPO_ROOT))
        pipeline.handle(InboundMessage(body=item.body, message_id=message_id, delivery_count=1, session_id=session_id))
    pipeline.close()

    assert dict(answers.by_status) == documented
    assert counts == {status: len(samples) for status, samples in documented.items()}
    assert int(shown) == len(valid) == sum(counts.values())
