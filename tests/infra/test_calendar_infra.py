"""Calendar mode in infra/ (issue 15): off by default, one parameter that wires CALENDAR_EVENTS_ENABLED and grants
Calendars.ReadWrite only when on, and deploy.sh's --calendar-events with the Exchange scoping step it prints."""

from __future__ import annotations

import json
from typing import Any

from shared.settings import CALENDAR_EVENTS_ENABLED
from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    INFRA,
    MODULES,
    function_app_settings,
    parse_bicep,
    parse_bicepparam,
    unwrap_condition,
    variable,
)
from tests.infra.test_deploy_script import fake_azure  # noqa: F401  (the fixture)

CALENDARS_READWRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"


def test_calendar_mode_is_off_unless_the_operator_turns_it_on() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    assert main["parameters"]["calendarEvents"]["default"] is False
    assert (
        "calendarEvents" in parse_bicepparam(INFRA / "main.bicepparam")
        or "BOOKING_BRIDGE_CALENDAR_EVENTS" in (INFRA / "main.bicepparam").read_text()
    )
    assert "calendarEvents" in json.dumps(main["modules"]["functionApp"]["config"]["params"]["calendarEventsEnabled"])
    assert "calendarEventsEnabled" in json.dumps(function_app_settings()[CALENDAR_EVENTS_ENABLED])


def test_the_template_grants_calendars_readwrite_only_in_calendar_mode() -> None:
    tree = parse_bicep(MODULES / "graph-app-role.bicep")
    grant = tree["resources"]["calendarsRole"]
    assert grant["type"] == "Microsoft.Graph/appRoleAssignedTo"
    body, condition = unwrap_condition(grant["config"])
    assert condition == "calendarEvents"
    assert variable(tree, body["appRoleId"]) == CALENDARS_READWRITE
    assert body["principalId"] == "principalId"
    assert tree["parameters"]["calendarEvents"]["default"] is False
    module = parse_bicep(INFRA / "main.bicep")["modules"]["graphAppRole"]["config"]
    assert "calendarEvents" in json.dumps(module)
    assert f'CALENDARS_ROLE_ID="{CALENDARS_READWRITE}"' in DEPLOY_SCRIPT.read_text()


def test_deploy_sh_grants_calendars_and_prints_the_exchange_scope_only_with_calendar_events(
    fake_azure: dict[str, Any],  # noqa: F811
) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    plain = fake_azure["run"]("-g", "rg-bridge", "--skip-code")
    assert plain.returncode == 0, plain.stderr
    assert CALENDARS_READWRITE not in (fake_azure["state"] / "granted").read_text()
    assert "New-ManagementRoleAssignment" not in plain.stdout
    env = json.loads((fake_azure["state"] / "deploy-env-create.json").read_text())
    assert env["BOOKING_BRIDGE_CALENDAR_EVENTS"] == "false"

    calendar = fake_azure["run"]("-g", "rg-bridge", "--skip-code", "--calendar-events")
    assert calendar.returncode == 0, calendar.stderr
    assert CALENDARS_READWRITE in (fake_azure["state"] / "granted").read_text()
    env = json.loads((fake_azure["state"] / "deploy-env-create.json").read_text())
    assert env["BOOKING_BRIDGE_CALENDAR_EVENTS"] == "true"
    out = calendar.stdout
    assert 'New-ServicePrincipal -AppId "22222222-2222-2222-2222-222222222222"' in out
    assert "New-ManagementScope" in out
    assert '-Role "Application Calendars.ReadWrite" -CustomResourceScope' in out
