"""Calendar mode in infra/: off by default, one parameter that wires CALENDAR_EVENTS_ENABLED, and Calendars.ReadWrite
from Entra (granted tenant-wide) or from Exchange (never granted in Entra, so a scope set with Exchange RBAC for
Applications survives every redeploy); deploy.sh's --calendar-events and --calendar-access with the steps it prints."""

from __future__ import annotations

import json

from shared.settings import CALENDAR_EVENTS_ENABLED
from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    INFRA,
    MODULES,
    function_app_settings,
    module_params,
    parse_bicep,
    parse_bicepparam,
    unwrap_condition,
    variable,
)
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)

CALENDARS_READWRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"


def test_calendar_mode_is_off_unless_the_operator_turns_it_on() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    assert main["parameters"]["calendarEvents"]["default"] is False
    assert "BOOKING_BRIDGE_CALENDAR_EVENTS" in (INFRA / "main.bicepparam").read_text()
    assert "calendarEvents" in json.dumps(main["modules"]["functionApp"]["config"]["params"]["calendarEventsEnabled"])
    assert "calendarEventsEnabled" in json.dumps(function_app_settings()[CALENDAR_EVENTS_ENABLED])


def test_the_template_grants_calendars_readwrite_only_in_calendar_mode_with_entra_access() -> None:
    tree = parse_bicep(MODULES / "graph-app-role.bicep")
    grant = tree["resources"]["calendarsRole"]
    assert grant["type"] == "Microsoft.Graph/appRoleAssignedTo"
    body, condition = unwrap_condition(grant["config"])
    assert condition == "calendarsReadWrite"
    assert variable(tree, body["appRoleId"]) == CALENDARS_READWRITE
    assert body["principalId"] == "principalId"
    assert tree["parameters"]["calendarsReadWrite"]["default"] is False
    passed = module_params("graphAppRole")["calendarsReadWrite"]
    assert passed == {
        "operator": {
            "type": "and",
            "operands": {
                "operand_1": "calendarEvents",
                "operand_2": {"operator": {"type": "equals", "operands": {"operand_1": "calendarAccess", "operand_2": "entra"}}},
            },
        }
    }
    access = parse_bicep(INFRA / "main.bicep")["parameters"]["calendarAccess"]
    assert access["default"] == "entra"
    assert {"type": "allowed", "argument": ["entra", "exchange"]} in access["decorators"]
    assert "BOOKING_BRIDGE_CALENDAR_ACCESS" in (INFRA / "main.bicepparam").read_text()
    assert parse_bicepparam(INFRA / "main.bicepparam")["calendarAccess"]["function"]["type"] == "readEnvironmentVariable"
    assert f'CALENDARS_ROLE_ID="{CALENDARS_READWRITE}"' in DEPLOY_SCRIPT.read_text()


def test_deploy_sh_grants_calendars_and_prints_the_exchange_scope_only_with_calendar_events(
    fake_azure: FakeAzure,  # noqa: F811
) -> None:
    fake_azure.with_resource_group()
    plain = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    assert plain.returncode == 0, plain.stderr
    assert CALENDARS_READWRITE not in fake_azure.granted_roles()
    assert "New-ManagementRoleAssignment" not in plain.stdout
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_CALENDAR_EVENTS"] == "false"

    calendar = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-events")
    assert calendar.returncode == 0, calendar.stderr
    assert CALENDARS_READWRITE in fake_azure.granted_roles()
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_CALENDAR_EVENTS"] == "true"
    assert "EVERY mailbox" in calendar.stderr and "--calendar-access exchange" in calendar.stderr
    out = calendar.stdout
    assert 'New-ServicePrincipal -AppId "22222222-2222-2222-2222-222222222222"' in out
    assert "New-ManagementScope" in out
    assert '-Role "Application Calendars.ReadWrite" -CustomResourceScope' in out


def test_calendar_mode_from_exchange_never_grants_calendars_in_entra_even_on_redeploy(
    fake_azure: FakeAzure,  # noqa: F811
) -> None:
    fake_azure.with_resource_group()
    first = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-events", "--calendar-access", "exchange")
    again = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    in_template = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--graph-in-template")

    for completed in (first, again, in_template):
        assert completed.returncode == 0, completed.stderr
        assert "New-ManagementRoleAssignment" in completed.stdout
    assert CALENDARS_READWRITE not in fake_azure.granted_roles()
    assert fake_azure.recorded_parameters()["calendarAccess"] == "exchange"
    assert "Not granted in Entra" in again.stdout


def test_calendar_mode_from_exchange_names_the_entra_grant_left_from_earlier(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group()
    assert fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-events").returncode == 0
    assert CALENDARS_READWRITE in fake_azure.granted_roles()

    scoped = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-access", "exchange")

    assert scoped.returncode == 0, scoped.stderr
    assert "still granted in Entra" in scoped.stderr
    assert (
        "az rest --method delete --url 'https://graph.microsoft.com/v1.0/servicePrincipals/"
        "33333333-3333-3333-3333-333333333333/appRoleAssignments/assignment-0'" in scoped.stderr
    )
    assert not [call for call in fake_azure.calls() if "--method delete" in call], "printed for a person, never run"
