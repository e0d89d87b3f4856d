"""The queues in infra/ (and the local emulator) fit the retry design, the ordering and duplicate detection."""

from __future__ import annotations

import json

from shared.settings import (
    DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_RESULTS_QUEUE,
)
from tests.infra.bicep import (
    EMULATOR_CONFIG,
    INFRA,
    MODULES,
    bicep_files,
    function_app_settings,
    iso8601_minutes,
    module_params,
    parse_bicep,
    parse_bicepparam,
    properties_of,
    reference,
)


def test_bookings_queue_fits_the_retry_budget() -> None:
    tree = parse_bicep(MODULES / "servicebus.bicep")
    bookings = properties_of(tree, "bookingsQueue")
    # The host renews the lock (maxAutoLockRenewalDuration 00:05:00); one invocation's Graph
    # retries take at most 45 s, so a one-minute lock is never outlived between renewals.
    assert iso8601_minutes(bookings["lockDuration"]) * 60 > 45
    assert bookings["maxDeliveryCount"] == "bookingsMaxDeliveryCount"
    assert bookings["deadLetteringOnMessageExpiration"] is True
    assert bookings["defaultMessageTimeToLive"] == "messageTimeToLive"
    main = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert main["bookingsMaxDeliveryCount"]["default"] == 10
    assert iso8601_minutes(main["messageTimeToLive"]["default"]) >= 24 * 60


def test_bookings_queue_keeps_each_records_messages_in_order() -> None:
    bookings = properties_of(parse_bicep(MODULES / "servicebus.bicep"), "bookingsQueue")
    assert bookings["requiresSession"] is True
    # Off: a dead-letter replay re-sends with the original message id and would be dropped.
    assert bookings["requiresDuplicateDetection"] is False
    assert "duplicateDetectionHistoryTimeWindow" not in bookings


def test_max_delivery_count_is_configured_in_one_place() -> None:
    assert module_params("serviceBus")["bookingsMaxDeliveryCount"] == "bookingsMaxDeliveryCount"
    assert parse_bicepparam(INFRA / "main.bicepparam")["bookingsMaxDeliveryCount"] == 10
    values = {
        path.name: parse_bicep(path)["parameters"]["bookingsMaxDeliveryCount"]["default"]
        for path in bicep_files()
        if "bookingsMaxDeliveryCount" in parse_bicep(path).get("parameters", {})
    }
    # Only main.bicep has a value; the modules must be handed it.
    assert values == {"main.bicep": 10, "servicebus.bicep": None, "functionapp.bicep": None}


def test_the_bridge_reads_the_max_delivery_count_the_queue_enforces() -> None:
    service_bus = parse_bicep(MODULES / "servicebus.bicep")
    assert properties_of(service_bus, "bookingsQueue")["maxDeliveryCount"] == "bookingsMaxDeliveryCount"
    output = service_bus["outputs"]["bookingsMaxDeliveryCount"]["value"]
    assert reference(output) == "bookingsQueue.properties.maxDeliveryCount"
    passed = module_params("functionApp")["bookingsMaxDeliveryCount"]
    assert reference(passed) == "serviceBus.outputs.bookingsMaxDeliveryCount"
    setting = function_app_settings()["BOOKINGS_MAX_DELIVERY_COUNT"]
    assert setting == {"function": {"type": "string", "parameters": {"value_to_convert": "bookingsMaxDeliveryCount"}}}


def test_results_queue_detects_duplicates_for_at_least_ten_minutes() -> None:
    results = properties_of(parse_bicep(MODULES / "servicebus.bicep"), "resultsQueue")
    assert results["requiresDuplicateDetection"] is True
    assert iso8601_minutes(results["duplicateDetectionHistoryTimeWindow"]) >= 10
    assert results["deadLetteringOnMessageExpiration"] is True


def test_the_emulator_queues_behave_like_the_azure_ones() -> None:
    [namespace] = json.loads(EMULATOR_CONFIG.read_text())["UserConfig"]["Namespaces"]
    emulated = {queue["Name"]: queue["Properties"] for queue in namespace["Queues"]}
    tree = parse_bicep(MODULES / "servicebus.bicep")
    for name, symbol in ((DEFAULT_BOOKINGS_QUEUE, "bookingsQueue"), (DEFAULT_RESULTS_QUEUE, "resultsQueue")):
        azure = properties_of(tree, symbol)
        assert emulated[name]["RequiresSession"] is azure["requiresSession"], f"{name}: sessions differ from Azure"
        assert emulated[name]["RequiresDuplicateDetection"] is azure["requiresDuplicateDetection"], name
        assert emulated[name]["LockDuration"] == azure["lockDuration"], name
    assert emulated[DEFAULT_BOOKINGS_QUEUE]["MaxDeliveryCount"] == DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT


def test_namespace_output_is_a_host_name_not_an_url() -> None:
    output = parse_bicep(MODULES / "servicebus.bicep")["outputs"]["fullyQualifiedNamespace"]["value"]
    text = json.dumps(output)
    # split(split(serviceBusEndpoint, '//')[1], ':')[0] turns https://host:443/ into host.
    assert "serviceBusEndpoint" in text and '"//"' in text and '":"' in text
