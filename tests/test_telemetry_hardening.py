"""Metrics, alerts and logs hold against producer- and Graph-controlled input, and the local-only Graph sign-in
stays local."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from shared import graph_client
from shared.errors import ConfigurationError, GraphAccessDenied, RetryableError
from shared.graph_responses import error_info as real_error_info
from shared.settings import (
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
    AZURE_INSTANCE_MARKERS,
    load_result_route,
    load_settings,
)
from shared.settings import ConfigurationError as SettingsError
from simulator import GraphSimulator
from simulator.faults import Fault
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker, Telemetry
from tests.test_infra_alerts import kql_filter, log_alert_criterion, resource, trace_rows


def _sources(telemetry: Telemetry) -> set[str]:
    return {dict(key)["source"] for key in telemetry.points("bridge.results")}


# ---------------------------------------------------------------- metric cardinality


def test_sources_the_allowlist_refuses_never_become_result_series(
    host: HostInvoker, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALLOWED_ORGANIZERS names the only source; the refused producers' sources are all counted as `other`."""
    monkeypatch.setenv("ALLOWED_ORGANIZERS", f"crm-eu={ORGANIZER_ID}")
    before = _sources(telemetry)
    minted = [f"bomb-{uuid.uuid4().hex[:12]}" for _ in range(5)]
    for source in minted:
        host.deliver(booking(source=source))
        assert host.last_result().status.value == "rejected"
    new = _sources(telemetry) - before
    assert not new & set(minted), f"refused producers' sources became metric series: {sorted(new)}"


def test_valid_sources_the_operator_did_not_name_share_one_result_series(host: HostInvoker, telemetry: Telemetry) -> None:
    """The schema lets any of 64^64 source names through; the metric stays a closed set (`other`)."""
    before = _sources(telemetry)
    for _ in range(5):
        host.deliver(booking(source=f"s{uuid.uuid4().hex[:20]}", recordId=f"BK-{uuid.uuid4().hex[:8]}"))
    assert len(_sources(telemetry) - before) <= 1, sorted(_sources(telemetry) - before)


# ---------------------------------------------------------------- results and alerts vs the real log lines


def test_failed_results_alert_counts_last_delivery_give_ups_too_and_says_how_to_tell_them_apart(
    host: HostInvoker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The alert counts every `failed` result ("failed results above a rate"), a 500 outage's give-up on
    the last delivery included; its line carries deliveryCount and errorCode, and a `booking will be
    dead-lettered` line with the same messageId precedes it. The alert's description says so, and names the
    runbook step for each kind, not only "fix the records at the source"."""
    _, matches, _ = kql_filter(log_alert_criterion("failedResults")["query"])
    graph.inject(Fault(status=500, times=50))
    with caplog.at_level(logging.INFO), pytest.raises(RetryableError):
        host.deliver(booking(), delivery_count=10, message_id="give-up-1")
    counted = [row["message"] for row in trace_rows(caplog) if matches(row)]
    assert len(counted) == 1 and " deliveryCount=10 " in counted[0] and " messageId=give-up-1 " in counted[0], counted
    dead_lettered = [row["message"] for row in trace_rows(caplog) if row["message"].startswith("booking will be dead-lettered")]
    assert len(dead_lettered) == 1 and " messageId=give-up-1 " in dead_lettered[0], dead_lettered
    description = json.dumps(resource("failedResults")["config"]["properties"]["description"])
    for told in ("deliveryCount", "errorCode", "booking will be dead-lettered", "Dead letters and how to replay"):
        assert told in description, told


def test_a_misconfigured_bridges_failed_result_is_counted_and_logged_like_any_other(
    host: HostInvoker, telemetry: Telemetry, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the last delivery a broken setting publishes a `failed` result (shared/runtime.py _answer_unconfigured):
    bridge.results counts it and the failed-results alert sees its `booking processed` line."""
    monkeypatch.setenv("ALLOWED_ORGANIZERS", "crm-eu=not-a-guid")
    _, matches, _ = kql_filter(log_alert_criterion("failedResults")["query"])
    failed_before = sum(p.value for k, p in telemetry.points("bridge.results").items() if dict(k)["status"] == "failed")
    with caplog.at_level(logging.INFO), pytest.raises(ConfigurationError):
        host.deliver(booking(), delivery_count=10)
    assert host.last_result().status.value == "failed"
    failed_after = sum(p.value for k, p in telemetry.points("bridge.results").items() if dict(k)["status"] == "failed")
    counted = [row for row in trace_rows(caplog) if matches(row)]
    assert (failed_after - failed_before, len(counted)) == (1, 1)


# ---------------------------------------------------------------- Graph's error text in exported logs


def _graph_says(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    """Graph's error body carries this message (as Graph's own messages quote users and mailboxes)."""

    def error_info(*args, **kwargs):  # type: ignore[no-untyped-def]
        info = real_error_info(*args, **kwargs)
        return type(info)(info.http_status, info.code, message, info.request_id, info.client_request_id, info.retry_after_seconds)

    monkeypatch.setattr(graph_client, "error_info", error_info)


def test_graph_error_messages_quoting_an_address_never_reach_a_log_record(
    host: HostInvoker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shared/telemetry.py: never an attendee address nor an exception's message in telemetry 'as into the logs';
    the distro's LoggingHandler exports every record of the root logger to App Insights `traces`."""
    _graph_says(monkeypatch, "Attendee ada@contoso.com could not be resolved")
    graph.inject(Fault(status=500, times=50))
    with caplog.at_level(logging.INFO), pytest.raises(RetryableError):
        host.deliver(booking())
    leaked = [record.getMessage() for record in caplog.records if "ada@contoso.com" in record.getMessage()]
    assert leaked == [], leaked


def test_access_denied_alert_fires_on_an_early_field_whatever_graphs_message_is(
    host: HostInvoker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query matches `error=graph_access_denied`, early in the line; Graph's message (500 characters that
    escape to 6 each) is not logged, and could not push the field out of a bounded line."""
    _, matches, _ = kql_filter(log_alert_criterion("graphAccessDenied")["query"])
    _graph_says(monkeypatch, "\u200b" * 500)
    graph.deny_organizer(ORGANIZER_ID)
    with caplog.at_level(logging.INFO), pytest.raises(GraphAccessDenied):
        host.deliver(booking())
    denied = [row for row in trace_rows(caplog) if row["message"].startswith("booking will be")]
    assert denied and all(matches(row) for row in denied), [row["message"][-120:] for row in denied]


# ---------------------------------------------------------------- Development-only Graph sign-in


AZURE_APP_SERVICE = {
    # Set by the platform on every Azure Functions instance; never by Core Tools.
    "WEBSITE_INSTANCE_ID": "a" * 64,
    "WEBSITE_SITE_NAME": "bookingbridge-func",
    "ServiceBusConnection__fullyQualifiedNamespace": "contoso.servicebus.windows.net",
}


SIMULATOR_SIGN_IN = {
    "GRAPH_CREDENTIAL": "simulator",
    "GRAPH_IDENTITY_ENDPOINT": "http://127.0.0.1:8010/msi/token",
    "GRAPH_IDENTITY_HEADER": "x",
}


def test_graph_credential_is_refused_on_an_azure_instance_even_if_the_environment_says_development() -> None:
    env = {**AZURE_APP_SERVICE, "AZURE_FUNCTIONS_ENVIRONMENT": "Development", **SIMULATOR_SIGN_IN}
    with pytest.raises(SettingsError):
        load_settings(env)


@pytest.mark.parametrize("marker", AZURE_INSTANCE_MARKERS)
def test_an_azure_instance_uses_the_managed_identity_even_if_the_environment_says_development(marker: str) -> None:
    env = {"ServiceBusConnection__fullyQualifiedNamespace": "contoso.servicebus.windows.net", marker: "x"}
    development = {**env, "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
    assert load_settings(development).developer_credential is False
    assert load_result_route(development).developer_credential is False
    with pytest.raises(SettingsError) as raised:
        load_settings({**development, **SIMULATOR_SIGN_IN})
    assert raised.value.setting == "GRAPH_CREDENTIAL" and marker in str(raised.value)


def test_the_simulators_sign_in_is_refused_beside_an_application_insights_identity() -> None:
    """The simulator's identity endpoint is process-wide (shared/credential.py): the exporter would take its tokens."""
    env = {
        "ServiceBusConnection__fullyQualifiedNamespace": "contoso.servicebus.windows.net",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        **SIMULATOR_SIGN_IN,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD",
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert raised.value.setting == APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    assert "GRAPH_CREDENTIAL=simulator" in str(raised.value)
    assert load_result_route(env).graph_sign_in is None, "a result can still be published with the one credential"
