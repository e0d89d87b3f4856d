"""python -m bridgectl: every command explains itself, usage errors exit 2, and options say where the queues are."""

from __future__ import annotations

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusReceivedMessage,
)

from bridgectl import cli
from bridgectl.exit_codes import EXIT_OK, EXIT_USAGE
from bridgectl.queues import connection
from bridgectl.queues.connection import resolve_endpoint
from shared.settings import (
    DEFAULT_RESULTS_QUEUE,
)
from tests.cli.fakes import (
    EMULATOR,
    NAMESPACE,
    QUEUE_SETTINGS,
    run,
)


def test_the_stand_in_only_adds_attributes_the_sdk_received_message_has() -> None:
    added = {"sequence_number", "delivery_count", "enqueued_time_utc", "dead_letter_reason", "dead_letter_error_description"}
    assert all(hasattr(ServiceBusReceivedMessage, name) for name in added)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["send", "--help"], "nothing at all is sent"),
        (["results", "--help"], "--receive completes each matching result after printing it"),
        (["dlq", "list", "--help"], "nothing is removed or locked"),
        (["dlq", "show", "--help"], "SEQUENCE_OR_MESSAGE_ID"),
        (["dlq", "replay", "--help"], "only after that send succeeded"),
    ],
)
def test_every_command_explains_itself(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    help_text = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == EXIT_OK
    assert expected in help_text
    assert "--namespace FQDN" in help_text and "--connection-string" in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["send"],
        ["results", "--status", "done"],
        ["results", "--peek", "--receive"],
        ["results", "--max", "0"],
        ["results", "--wait", "-1"],
        ["results", "--namespace", NAMESPACE, "--connection-string", EMULATOR],
        ["dlq"],
        ["dlq", "show"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_options_parse_into_what_the_commands_use() -> None:
    args = cli.build_parser().parse_args(
        ["results", "--receive", "--status", "failed", "--status", "rejected", "--external-id", "ABC", "--format", "table"]
    )
    assert (args.receive, args.status, args.external_id, args.format, args.max, args.wait) == (
        True,
        ["failed", "rejected"],
        ["ABC"],
        "table",
        10,
        None,
    )
    replay = cli.build_parser().parse_args(["dlq", "replay", "--message-id", "a", "--message-id", "b", "--dry-run"])
    assert (replay.message_id, replay.all, replay.dry_run, replay.max) == (["a", "b"], False, True, 100)


def test_no_namespace_is_a_usage_error_naming_the_setting(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    for name in QUEUE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "results")
    assert code == EXIT_USAGE
    assert "ServiceBusConnection__fullyQualifiedNamespace: is not set" in err and "--namespace" in err


def test_a_connection_string_is_only_for_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dlq", "list", "--connection-string", "Endpoint=sb://x.servicebus.windows.net;SharedAccessKey=k")
    assert code == EXIT_USAGE
    assert "UseDevelopmentEmulator=true" in err


def test_options_win_over_the_environment_and_the_settings_rules_apply() -> None:
    args = cli.build_parser().parse_args(["results", "--namespace", NAMESPACE.upper(), "--results-queue", "results-b"])
    endpoint = resolve_endpoint(args, {"ServiceBusConnection": EMULATOR, "RESULTS_QUEUE": "results-a", "BOOKINGS_QUEUE": "b2"})
    assert (endpoint.target.fully_qualified_namespace, endpoint.results_queue, endpoint.bookings_queue) == (
        NAMESPACE,
        "results-b",
        "b2",
    )
    from_environment = resolve_endpoint(cli.build_parser().parse_args(["results"]), {"ServiceBusConnection": EMULATOR})
    assert from_environment.target.emulator_connection_string == EMULATOR
    assert (from_environment.namespace, from_environment.results_queue) == ("emulator at localhost", DEFAULT_RESULTS_QUEUE)


def test_the_emulator_gets_a_real_client_without_connecting() -> None:
    endpoint = resolve_endpoint(cli.build_parser().parse_args(["results", "--connection-string", EMULATOR]), {})
    client = connection.open_client(endpoint)
    assert isinstance(client, ServiceBusClient)
    assert client.fully_qualified_namespace == "localhost"
