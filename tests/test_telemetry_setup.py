"""Telemetry is configured once, the way Azure Functions documents it for Python: the host in OpenTelemetry mode,
the worker continuing each invocation's trace context, and the Azure Monitor exporter configured by the bridge
when a connection string is set, never a second time by the worker, and never stopping a booking when it fails."""

from __future__ import annotations

import json
import logging
import sys
import types
from typing import Any

import pytest

from shared import runtime, telemetry
from shared.settings import load_telemetry_settings
from tests.bookings import REPO_ROOT
from tests.infra.bicep import function_app_settings

CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"


@pytest.fixture
def distro(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stand-in for azure.monitor.opentelemetry that records each configure_azure_monitor call."""
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("azure.monitor.opentelemetry")
    module.configure_azure_monitor = lambda **options: calls.append(options)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", module)
    monkeypatch.setattr(runtime, "_telemetry_set_up", False)
    return calls


def test_the_host_runs_in_opentelemetry_mode_and_infra_leaves_configuration_to_the_bridge() -> None:
    host = json.loads((REPO_ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    # In that mode logging.applicationInsights no longer applies: it would be dead configuration.
    assert "applicationInsights" not in host["logging"]
    settings = function_app_settings()
    assert settings["PYTHON_ENABLE_OPENTELEMETRY"] == "true"
    assert settings["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "false"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"


def test_the_exporter_is_configured_once_per_process(distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", CONNECTION_STRING)
    monkeypatch.delenv("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", raising=False)

    runtime.set_up_telemetry()
    runtime.set_up_telemetry()

    (options,) = distro
    assert options["connection_string"] == CONNECTION_STRING
    # The bridge's spans cover every Graph and table request; the distro's HTTP instrumentations would add a
    # second span per request, with a URL whose path names the organizer.
    assert options["instrumentation_options"] == {name: {"enabled": False} for name in ("requests", "urllib3", "urllib")}


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": " "},
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING, "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "True"},
    ],
    ids=["no connection string", "blank", "the worker configures it"],
)
def test_nothing_is_configured_without_a_connection_string_or_when_the_worker_does_it(
    distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name in ("APPLICATIONINSIGHTS_CONNECTION_STRING", "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    runtime.set_up_telemetry()

    assert distro == []
    assert load_telemetry_settings().azure_monitor_connection_string is None


def test_a_failing_exporter_is_logged_and_bookings_go_on(
    distro: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(**options: Any) -> None:
        raise ValueError(f"Invalid connection string {options['connection_string']}")

    monkeypatch.setattr(sys.modules["azure.monitor.opentelemetry"], "configure_azure_monitor", refuse)

    assert telemetry.export_to_azure_monitor(CONNECTION_STRING) is False
    assert "telemetry is not exported to Application Insights: ValueError" in caplog.text
    assert CONNECTION_STRING not in caplog.text


def test_without_the_distro_installed_bookings_go_on(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", None)  # import fails, as when not installed
    with caplog.at_level(logging.ERROR):
        assert telemetry.export_to_azure_monitor(CONNECTION_STRING) is False
    assert "ModuleNotFoundError" in caplog.text or "ImportError" in caplog.text
