"""The local Service Bus emulator's queues and the fully local settings in docs/operations.md match the bridge's."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from shared.settings import (
    APP_SETTINGS,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_RESULTS_QUEUE,
    SERVICE_BUS_CONNECTION,
    load_settings,
)
from tests.bookings import REPO_ROOT
from tests.cli.fakes import (
    EMULATOR,
)


def _emulator_queues() -> dict[str, dict[str, Any]]:
    config = json.loads((REPO_ROOT / "local" / "servicebus-emulator" / "Config.json").read_text())
    [namespace] = config["UserConfig"]["Namespaces"]
    assert namespace["Name"] == "sbemulatorns"  # the only name the emulator accepts
    return {queue["Name"]: queue["Properties"] for queue in namespace["Queues"]}


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_emulator_declares_both_default_queues() -> None:
    queues = _emulator_queues()
    assert set(queues) == {DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE}
    bookings = queues[DEFAULT_BOOKINGS_QUEUE]
    assert (bookings["MaxDeliveryCount"], bookings["LockDuration"], bookings["DeadLetteringOnMessageExpiration"]) == (
        10,
        "PT1M",
        True,
    )


def test_the_emulator_drops_duplicate_results_within_its_limits() -> None:
    results = _emulator_queues()[DEFAULT_RESULTS_QUEUE]
    assert results["RequiresDuplicateDetection"] is True
    # The emulator's Config-schema.json documents 5 s to 5 min for this window (Azure allows up to 7 days).
    assert 5 <= _seconds(results["DuplicateDetectionHistoryTimeWindow"]) <= 300


def test_compose_mounts_that_config_and_documents_the_secrets() -> None:
    compose = (REPO_ROOT / "local" / "docker-compose.yml").read_text()
    assert "./servicebus-emulator/Config.json}:/ServiceBus_Emulator/ConfigFiles/Config.json" in compose
    for image in (
        "mcr.microsoft.com/azure-messaging/servicebus-emulator:latest",
        "mcr.microsoft.com/azure-sql-edge:latest",
        "mcr.microsoft.com/azure-storage/azurite",
    ):
        assert f"image: {image}" in compose
    example = (REPO_ROOT / "local" / ".env.example").read_text()
    assert re.search(r"^MSSQL_SA_PASSWORD=<.+>$", example, re.MULTILINE) and "ACCEPT_EULA=N" in example


def test_the_fully_local_settings_in_the_docs_are_ones_the_bridge_reads() -> None:
    operations = (REPO_ROOT / "docs" / "operations.md").read_text()
    [block] = [found for found in re.findall(r"```json\n(.*?)```", operations, re.DOTALL) if "UseDevelopmentEmulator" in found]
    values = json.loads(textwrap.dedent(block))["Values"]
    host_and_identity = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    assert set(values) <= {*APP_SETTINGS, SERVICE_BUS_CONNECTION, *host_and_identity}
    settings = load_settings(values)
    assert settings.service_bus.emulator_connection_string == EMULATOR
    assert (settings.bookings_queue, settings.results_queue) == (DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE)
    assert settings.graph_base_url == "http://127.0.0.1:8010/v1.0"
