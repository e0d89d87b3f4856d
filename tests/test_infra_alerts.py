"""infra/modules/alerts.bicep: the alerts an operator acts on, read without Azure.

Each alert is held to its target (the queues' namespace, the Application Insights component), its
signal (metric, dimension, query) and its threshold. The log alerts' queries are evaluated, with the
small subset of KQL they use, against the log lines the bridge really writes when a booking fails or
Graph refuses access, so a changed log line cannot silently blind an alert; the failed-invocations
query against the spans the Functions host emits for a Service Bus session trigger in OpenTelemetry
mode, with and without the session processor's activity source (docs/alerts.md names the host and SDK
sources and the host versions).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from shared.errors import GraphAccessDenied, RetryableError
from simulator import Fault
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import indexed_functions
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fake az that runs deploy.sh)

REPO_ROOT = Path(__file__).resolve().parent.parent
INFRA = REPO_ROOT / "infra"
ALERTS = INFRA / "modules" / "alerts.bicep"

# The Azure Service Bus SDK's processor names the span of each message it hands the trigger after the
# operation, not the function (Azure.Messaging.ServiceBus DiagnosticProperty); the session processor's,
# since the function's trigger requires sessions.
SESSION_MESSAGE_SPAN = "ServiceBusSessionProcessor.ProcessSessionMessage"
MESSAGE_SPAN = "ServiceBusProcessor.ProcessMessage"

# symbol -> the queue parameter its EntityName dimension names.
DEAD_LETTER_ALERTS = {"deadLetteredBookings": "bookingsQueueName", "deadLetteredResults": "resultsQueueName"}

LOG_ALERTS = {
    # symbol -> (measured column, threshold expression)
    "failedResults": ("failedResults", "failedResultsThreshold"),
    "graphAccessDenied": ("deniedAttempts", 0),
    "failedInvocations": ("failedInvocations", "failedInvocationsThreshold"),
}


@functools.cache
def alerts_tree() -> dict[str, Any]:
    return BicepParser().parse(file_path=ALERTS)


@functools.cache
def main_tree() -> dict[str, Any]:
    return BicepParser().parse(file_path=INFRA / "main.bicep")


def resource(symbol: str) -> dict[str, Any]:
    return alerts_tree()["resources"][symbol]


def accessor(expression: Any) -> str:
    """`a.b.c` for a pycep property access, else the expression as JSON."""
    if isinstance(expression, str):
        return expression
    operator = expression.get("operator", {}) if isinstance(expression, dict) else {}
    if operator.get("type") != "property_accessor":
        return json.dumps(expression)
    operands = operator["operands"]
    return f"{accessor(operands['operand_1'])}.{accessor(operands['operand_2'])}"


# ---------------------------------------------------------------- the KQL the log alerts use

_PREDICATE = re.compile(r'^(\w+) (startswith|contains|matches regex|==) (?:"([^"]*)"|(true|false))$')
_IN = re.compile(r'^(\w+) in \(("[^"]*"(?:, "[^"]*")*)\)$')


def kql_filter(query: str) -> tuple[str, Callable[[dict[str, Any]], bool], str]:
    """(table, row predicate, summarized column) of `T | where p and p ... | summarize c = sum(itemCount)`.

    Only the operators the alerts use are understood; anything else fails the test, so the
    evaluator can never quietly approve a query it does not read. KQL's startswith and contains
    ignore case; matches regex, == and in do not."""
    stages = [stage.strip() for stage in query.split("|")]
    assert len(stages) == 3, f"expected table | where ... | summarize ...: {query}"
    table, where, summarize = stages
    assert where.startswith("where "), query
    column = re.fullmatch(r"summarize (\w+) = sum\(itemCount\)", summarize)
    assert column, f"the alert must add up itemCount (sampling): {summarize}"
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for predicate in where.removeprefix("where ").split(" and "):
        listed = _IN.match(predicate)
        if listed:
            field, values = listed.group(1), frozenset(re.findall(r'"([^"]*)"', listed.group(2)))
            tests.append(lambda row, f=field, v=values: row[f] in v)
            continue
        match = _PREDICATE.match(predicate)
        assert match, f"predicate this test cannot evaluate: {predicate}"
        field, operator, text, boolean = match.groups()
        if operator == "startswith":
            tests.append(lambda row, f=field, t=text: str(row[f]).casefold().startswith(t.casefold()))
        elif operator == "contains":
            tests.append(lambda row, f=field, t=text: t.casefold() in str(row[f]).casefold())
        elif operator == "matches regex":
            tests.append(lambda row, f=field, t=text: re.search(t, str(row[f])) is not None)
        else:
            expected: Any = (boolean == "true") if boolean else text
            tests.append(lambda row, f=field, e=expected: row[f] == e)
    return table, lambda row: all(test(row) for test in tests), column.group(1)


def log_alert_criterion(symbol: str) -> dict[str, Any]:
    (criterion,) = resource(symbol)["config"]["properties"]["criteria"]["allOf"]
    return criterion


def trace_rows(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """What Application Insights stores in `traces` for each log record: the formatted message."""
    return [{"message": record.getMessage(), "itemCount": 1} for record in caplog.records]


# ---------------------------------------------------------------- wiring


def test_main_bicep_wires_the_alerts_to_the_deployed_queue_and_telemetry() -> None:
    main = main_tree()
    params = main["modules"]["alerts"]["config"]["params"]
    assert main["modules"]["alerts"]["detail"]["path"] == "modules/alerts.bicep"
    assert "condition" not in main["modules"]["alerts"]["config"], "alerts are on by default, always"
    assert accessor(params["serviceBusNamespaceName"]) == "serviceBus.outputs.name"
    assert accessor(params["bookingsQueueName"]) == "serviceBus.outputs.bookingsQueueName"
    assert accessor(params["resultsQueueName"]) == "serviceBus.outputs.resultsQueueName"
    assert accessor(params["applicationInsightsName"]) == "monitoring.outputs.applicationInsightsName"
    for name in ("alertEmail", "failedResultsThreshold", "failedInvocationsThreshold"):
        assert params[name] == name
    declared = main["parameters"]
    assert declared["alertEmail"]["default"] == ""
    assert declared["failedResultsThreshold"]["default"] > 0
    assert declared["failedInvocationsThreshold"]["default"] > 0
    bicepparam = (INFRA / "main.bicepparam").read_text()
    assert "param alertEmail = readEnvironmentVariable('BOOKING_BRIDGE_ALERT_EMAIL', '')" in bicepparam


def test_alert_targets_are_this_deployments_namespace_and_application_insights() -> None:
    namespace, insights = resource("namespace"), resource("applicationInsights")
    assert (namespace["type"], namespace["existing"], namespace["config"]["name"]) == (
        "Microsoft.ServiceBus/namespaces",
        True,
        "serviceBusNamespaceName",
    )
    assert (insights["type"], insights["existing"], insights["config"]["name"]) == (
        "Microsoft.Insights/components",
        True,
        "applicationInsightsName",
    )
    for symbol in DEAD_LETTER_ALERTS:
        assert [accessor(scope) for scope in resource(symbol)["config"]["properties"]["scopes"]] == ["namespace.id"]
    for symbol in LOG_ALERTS:
        rule = resource(symbol)
        assert rule["type"] == "Microsoft.Insights/scheduledQueryRules"
        assert rule["config"]["kind"] == "LogAlert"
        assert [accessor(scope) for scope in rule["config"]["properties"]["scopes"]] == ["applicationInsights.id"]


def test_every_alert_is_enabled_and_notifies_the_operators_action_group() -> None:
    group = resource("operators")
    assert group["type"] == "Microsoft.Insights/actionGroups"
    assert group["config"]["location"] == "global"
    assert group["config"]["properties"]["emailReceivers"] == "emailReceivers"
    receivers = alerts_tree()["variables"]["emailReceivers"]["value"]
    # No address: the group exists without receivers (deploy.sh warns); never an empty address.
    assert "alertEmail" in json.dumps(receivers["operator"]["operands"]["condition"])
    assert receivers["operator"]["operands"]["true_value"] == []
    for symbol in DEAD_LETTER_ALERTS:
        metric = resource(symbol)["config"]["properties"]
        assert [accessor(action["actionGroupId"]) for action in metric["actions"]] == ["operators.id"]
        assert metric["enabled"] is True
    for symbol in LOG_ALERTS:
        properties = resource(symbol)["config"]["properties"]
        assert [accessor(group_id) for group_id in properties["actions"]["actionGroups"]] == ["operators.id"]
        assert properties["enabled"] is True
        assert "identity" not in resource(symbol)["config"], "log alerts need no identity, so none is given one"


def test_each_alert_says_which_runbook_step_to_follow() -> None:
    runbooks = "\n".join(path.read_text() for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))])
    for symbol in (*DEAD_LETTER_ALERTS, *LOG_ALERTS):
        text = json.dumps(resource(symbol)["config"]["properties"]["description"])
        steps = re.findall(r'Runbook step \\"([^"\\]+)\\"', text)
        assert steps, f"{symbol}: its description names no runbook step"
        for step in steps:
            assert f"**{step}" in runbooks, f"{symbol} points at runbook step {step!r}, which no README or docs page has"
        assert "docs/alerts.md" in text


# ---------------------------------------------------------------- dead letters


@pytest.mark.parametrize(("symbol", "queue"), list(DEAD_LETTER_ALERTS.items()))
def test_dead_letter_alert_fires_on_any_dead_letter_of_its_queue(symbol: str, queue: str) -> None:
    properties = resource(symbol)["config"]["properties"]
    assert properties["criteria"]["'odata.type'"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    (criterion,) = properties["criteria"]["allOf"]
    assert criterion["metricNamespace"] == "Microsoft.ServiceBus/namespaces"
    assert criterion["metricName"] == "DeadletteredMessages"
    assert criterion["dimensions"] == [{"name": "EntityName", "operator": "Include", "values": [queue]}]
    assert (criterion["operator"], criterion["threshold"], criterion["timeAggregation"]) == ("GreaterThan", 0, "Maximum")


@pytest.mark.parametrize("symbol", list(DEAD_LETTER_ALERTS))
def test_dead_letter_alert_stays_open_until_an_operator_has_seen_the_queue_empty(symbol: str) -> None:
    """The metric reads 0 for an entity idle two hours, dead letters or not: a self-resolving alert could clear
    with them still there. Stateless, it repeats while the metric shows any, and stays open until closed."""
    properties = resource(symbol)["config"]["properties"]
    assert properties["autoMitigate"] is False
    # Over 5 minutes a stateless alert repeats every one to two evaluation periods: every 15-30 minutes here.
    assert (properties["evaluationFrequency"], properties["windowSize"]) == ("PT15M", "PT15M")
    assert "does not resolve itself" in properties["description"]
    docs = (REPO_ROOT / "docs" / "alerts.md").read_text()
    assert "idle for two hours" in docs and "close" in docs


def test_results_nobody_read_are_alerted_on_at_a_lower_severity() -> None:
    results, bookings = (resource(symbol)["config"]["properties"] for symbol in ("deadLetteredResults", "deadLetteredBookings"))
    assert results["severity"] > bookings["severity"], "nothing in the bridge is broken; a source is not reading"
    assert "Results nobody read" in json.dumps(results["description"])


# ---------------------------------------------------------------- log alerts


@pytest.mark.parametrize("symbol", list(LOG_ALERTS))
def test_log_alert_measures_its_summed_column_against_its_threshold(symbol: str) -> None:
    column, threshold = LOG_ALERTS[symbol]
    criterion = log_alert_criterion(symbol)
    _, _, summarized = kql_filter(criterion["query"])
    assert criterion["metricMeasureColumn"] == summarized == column
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == ("Total", "GreaterThan", threshold)
    properties = resource(symbol)["config"]["properties"]
    assert (properties["windowSize"], properties["evaluationFrequency"]) == ("PT15M", "PT5M")


def test_failed_results_alert_counts_the_line_of_a_failed_result_and_nothing_else(host, graph, caplog) -> None:
    table, matches, _ = kql_filter(log_alert_criterion("failedResults")["query"])
    assert table == "traces"
    with caplog.at_level(logging.INFO):
        host.deliver(booking())
        graph.inject(Fault(status=404))
        host.deliver(booking(recordId="BK-404"))
    counted = [row["message"] for row in trace_rows(caplog) if matches(row)]
    assert len(counted) == 1 and counted[0].startswith("booking processed status=failed source=crm-eu"), counted


def test_access_denied_alert_counts_the_403_line_and_not_other_redeliveries(host, graph, caplog) -> None:
    table, matches, _ = kql_filter(log_alert_criterion("graphAccessDenied")["query"])
    assert table == "traces"
    with caplog.at_level(logging.INFO):
        graph.inject(Fault(status=500))
        with pytest.raises(RetryableError) as other:
            host.deliver(booking(recordId="BK-500"))
        assert not isinstance(other.value, GraphAccessDenied)
        graph.deny_organizer(ORGANIZER_ID)
        with pytest.raises(GraphAccessDenied):
            host.deliver(booking())
    redeliveries = [row for row in trace_rows(caplog) if row["message"].startswith("booking will be")]
    assert len(redeliveries) == 2, redeliveries
    assert [matches(row) for row in redeliveries] == [False, True]
    assert " httpStatus=403 " in redeliveries[1]["message"] and "New-CsApplicationAccessPolicy" in redeliveries[1]["message"]


def test_failed_invocations_alert_watches_the_span_every_current_host_emits_for_the_trigger() -> None:
    """In OpenTelemetry mode a Service Bus invocation is the SDK's session processor span on a host that exports its
    activity source, and the host's own function-level span, named after the function, on one that does not; both
    land in `requests`, and the host marks the current one failed when the function raises."""
    table, matches, _ = kql_filter(log_alert_criterion("failedInvocations")["query"])
    assert table == "requests"
    ((function_name, function),) = indexed_functions().items()
    trigger = function.get_trigger().get_dict_repr()
    # The session processor's span, because the trigger requires sessions.
    assert (trigger["type"], trigger["isSessionsEnabled"]) == ("serviceBusTrigger", True)
    for name in (SESSION_MESSAGE_SPAN, function_name):
        assert matches({"name": name, "success": False, "itemCount": 1}), name
        assert not matches({"name": name, "success": True, "itemCount": 1}), name
    # Never the processor's span of a trigger without sessions, nor another function's.
    assert not matches({"name": MESSAGE_SPAN, "success": False, "itemCount": 1})
    assert not matches({"name": function_name + "_other", "success": False, "itemCount": 1})


# ---------------------------------------------------------------- deploy.sh --alert-email


def test_deploy_sh_passes_the_alert_email_to_the_deployment(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group()
    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--alert-email", "ops@contoso.com")
    assert completed.returncode == 0, completed.stderr
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_ALERT_EMAIL"] == "ops@contoso.com"
    assert "NOBODY" not in completed.stderr
    assert "Alerts emailed to:   ops@contoso.com" in completed.stdout


def test_deploy_sh_without_an_alert_email_deploys_and_warns_loudly(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes")
    assert completed.returncode == 0, completed.stderr
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_ALERT_EMAIL"] == ""
    warnings = [line for line in completed.stderr.splitlines() if "NOBODY" in line]
    assert len(warnings) == 2, "said before the deployment and again at its end"
    assert "--alert-email" in completed.stderr


def test_deploy_sh_what_if_also_warns_without_an_alert_email(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--what-if")
    assert completed.returncode == 0, completed.stderr
    assert "NOBODY" in completed.stderr
    assert fake_azure.deployed_env("what-if")["BOOKING_BRIDGE_ALERT_EMAIL"] == ""


def test_deploy_sh_refuses_an_alert_email_that_is_not_an_address(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.run("-g", "rg-bridge", "--alert-email", "ops team")
    assert completed.returncode != 0
    assert "is not an email address" in completed.stderr
    assert fake_azure.calls() == []
