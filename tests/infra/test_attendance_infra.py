"""Attendance reports in infra/: off by default, one parameter that sets ATTENDANCE_REPORTS_ENABLED and grants
OnlineMeetingArtifact.Read.All (in the template, or with az rest by deploy.sh) only when on; deploy.sh's
--attendance-reports, kept by later runs, naming a grant left behind when turned off, and saying in the Teams step that
the meetings' application access policy covers the reports too."""

from __future__ import annotations

import json
import re

from shared.settings import ATTENDANCE_REPORTS_ENABLED
from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    INFRA,
    MODULES,
    REPO_ROOT,
    function_app_settings,
    module_params,
    parse_bicep,
    parse_bicepparam,
    reference,
    resources_of_type,
    unwrap_condition,
    variable,
)
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)
from tests.infra.test_deploy_public_log import PERSONAL, printed

# OnlineMeetingArtifact.Read.All, application ("Read online meeting artifacts"): the id Microsoft Graph's service
# principal gives the role, the same in every tenant.
ONLINE_MEETING_ARTIFACT_READ_ALL = "df01ed3b-eb61-4eca-9965-6b3d789751b2"
IDENTITY = "33333333-3333-3333-3333-333333333333"  # the function identity's object id, as the fake az outputs it
DOCS = REPO_ROOT / "docs" / "infrastructure.md"
ATTENDANCE = "--attendance-reports"
POLICY_COVERS_REPORTS = "and read their attendance reports"


def test_attendance_reports_are_off_unless_the_operator_turns_them_on() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    assert main["parameters"]["attendanceReports"]["default"] is False
    value = json.dumps(parse_bicepparam(INFRA / "main.bicepparam")["attendanceReports"])
    assert "readEnvironmentVariable" in value and "BOOKING_BRIDGE_ATTENDANCE_REPORTS" in value
    assert module_params("functionApp")["attendanceReportsEnabled"] == "attendanceReports"
    assert function_app_settings()[ATTENDANCE_REPORTS_ENABLED] == {
        "function": {"type": "string", "parameters": {"value_to_convert": "attendanceReportsEnabled"}}
    }


def test_the_template_grants_online_meeting_artifacts_only_with_attendance_reports() -> None:
    tree = parse_bicep(MODULES / "graph-app-role.bicep")
    grant = tree["resources"]["onlineMeetingArtifactsRole"]
    assert grant["type"] == "Microsoft.Graph/appRoleAssignedTo"
    body, condition = unwrap_condition(grant["config"])
    assert condition == "onlineMeetingArtifactRead"
    assert variable(tree, body["appRoleId"]) == ONLINE_MEETING_ARTIFACT_READ_ALL
    assert body["principalId"] == "principalId"
    assert reference(body["resourceId"]) == "microsoftGraph.id"
    assert tree["parameters"]["onlineMeetingArtifactRead"]["default"] is False
    assert module_params("graphAppRole")["onlineMeetingArtifactRead"] == "attendanceReports"
    roles = [
        variable(tree, unwrap_condition(resource["config"])[0]["appRoleId"])
        for resource in resources_of_type(tree, "Microsoft.Graph/appRoleAssignedTo").values()
    ]
    assert roles.count(ONLINE_MEETING_ARTIFACT_READ_ALL) == 1, "granted in one place, behind the parameter"
    assert f'ARTIFACTS_ROLE_ID="{ONLINE_MEETING_ARTIFACT_READ_ALL}"' in DEPLOY_SCRIPT.read_text()


def test_deploy_sh_grants_online_meeting_artifacts_only_with_attendance_reports(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group()
    plain = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert plain.returncode == 0, plain.stderr
    assert ONLINE_MEETING_ARTIFACT_READ_ALL not in fake_azure.granted_roles()
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_ATTENDANCE_REPORTS"] == "false"
    assert fake_azure.recorded_parameters()["attendanceReports"] is False
    assert "Attendance reports:  off (default)" in plain.stdout
    assert POLICY_COVERS_REPORTS not in plain.stdout

    on = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", ATTENDANCE)

    assert on.returncode == 0, on.stderr
    assert ONLINE_MEETING_ARTIFACT_READ_ALL in fake_azure.granted_roles()
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_ATTENDANCE_REPORTS"] == "true"
    assert fake_azure.recorded_parameters()["attendanceReports"] is True
    out = on.stdout
    assert "Attendance reports:  on, OnlineMeetingArtifact.Read.All (given)" in out
    assert POLICY_COVERS_REPORTS in out and "the same policy covers both, and no other is needed" in out
    global_warning = out.split("Grant-CsApplicationAccessPolicy -PolicyName BookingBridge -Global", 1)[1]
    assert "WARNING: -Global lets the bridge create meetings for EVERY user of the tenant" in global_warning
    assert "-Global also lets it read the attendance reports of every user's meetings" in global_warning


def test_a_second_run_without_the_flag_keeps_attendance_reports_and_grants_nothing_twice(fake_azure: FakeAzure) -> None:  # noqa: F811
    first = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", ATTENDANCE)
    assert first.returncode == 0, first.stderr

    again = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert again.returncode == 0, again.stderr
    assert fake_azure.recorded_parameters()["attendanceReports"] is True
    assert fake_azure.deployed_env()["BOOKING_BRIDGE_ATTENDANCE_REPORTS"] == "true"
    assert "Attendance reports:  on, OnlineMeetingArtifact.Read.All (kept)" in again.stdout
    assert fake_azure.granted_roles().count(ONLINE_MEETING_ARTIFACT_READ_ALL) == 1
    artifact_step = again.stdout.split("Microsoft Graph app role OnlineMeetingArtifact.Read.All", 1)[1]
    assert artifact_step.lstrip().startswith("Already granted.")


def test_turning_attendance_reports_off_names_the_grant_left_behind(fake_azure: FakeAzure) -> None:  # noqa: F811
    """Off, the identity would still read who attended the meetings of every organizer the Teams policy allows:
    deploy.sh names the grant with the command that removes it, as for calendar mode, and never deletes it itself."""
    fake_azure.with_resource_group()
    assert fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", ATTENDANCE).returncode == 0

    off = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--no-attendance-reports")

    assert off.returncode == 0, off.stderr
    assert fake_azure.recorded_parameters()["attendanceReports"] is False
    assert "Attendance reports:  off (given)" in off.stdout
    assert "OnlineMeetingArtifact.Read.All is still granted in Entra" in off.stderr
    assert (
        f"az rest --method delete --url 'https://graph.microsoft.com/v1.0/servicePrincipals/{IDENTITY}"
        "/appRoleAssignments/assignment-0'" in off.stderr
    )
    assert ONLINE_MEETING_ARTIFACT_READ_ALL in fake_azure.granted_roles(), "the grant is still there"
    assert not [call for call in fake_azure.calls() if "--method delete" in call], "printed for a person, never run"
    assert POLICY_COVERS_REPORTS not in off.stdout


def test_without_attendance_reports_and_no_grant_left_nothing_is_named(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    heading = "Microsoft Graph app role OnlineMeetingArtifact.Read.All (not needed: attendance reports are off)"
    step = completed.stdout.split(heading, 1)
    assert len(step) == 2 and step[1].lstrip().startswith("Not granted in Entra.")
    assert "OnlineMeetingArtifact.Read.All is still granted" not in completed.stderr


def test_a_deployment_made_before_attendance_reports_existed_takes_them_off(fake_azure: FakeAzure) -> None:  # noqa: F811
    calendar = ("--calendar-events", "--calendar-access", "exchange")
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *calendar).returncode == 0
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    del record["parameters"]["attendanceReports"]
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    kept = fake_azure.recorded_parameters()
    assert (kept["attendanceReports"], kept["calendarEvents"], kept["calendarAccess"]) == (False, True, "exchange")
    assert "Attendance reports:  off (default)" in completed.stdout


def test_a_kept_attendance_choice_is_checked_before_it_is_used(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes").returncode == 0
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    record["parameters"]["attendanceReports"] = "yes; rm -rf /"
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert "attendanceReports is not true or false" in completed.stderr
    assert "rm -rf" not in completed.stdout + completed.stderr
    assert len([call for call in fake_azure.calls() if call.startswith("deployment group create")]) == 1


def test_with_graph_in_template_the_deployment_grants_the_artifact_role(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes", "--graph-in-template", ATTENDANCE)

    assert completed.returncode == 0, completed.stderr
    parameters = fake_azure.recorded_parameters()
    assert (parameters["grantGraphAppRole"], parameters["attendanceReports"]) == (True, True)
    assert not [call for call in fake_azure.calls() if call.startswith("rest --method post")]
    assert "Microsoft Graph app roles OnlineMeetings.ReadWrite.All, OnlineMeetingArtifact.Read.All" in completed.stdout
    assert "Granted by the Bicep deployment." in completed.stdout


def test_without_entra_rights_deploy_sh_says_the_artifact_role_is_needed(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes", "--skip-graph-grant", ATTENDANCE)

    assert completed.returncode == 0, completed.stderr
    assert not [call for call in fake_azure.calls() if call.startswith(("rest", "ad sp"))]
    assert f"The identity {IDENTITY} needs OnlineMeetings.ReadWrite.All, OnlineMeetingArtifact.Read.All" in completed.stdout


def test_the_attendance_options_are_in_the_help_and_the_docs_table(fake_azure: FakeAzure) -> None:  # noqa: F811
    help_text = fake_azure.run("--help").stdout
    rows = {match.group(1): line for line in DOCS.read_text().splitlines() if (match := re.match(r"^\| `(--[a-z-]+)", line))}
    for option in (ATTENDANCE, "--no-attendance-reports"):
        assert re.search(rf"^\s+{option}\b", help_text, re.M), f"--help does not describe {option}"
        assert option in rows, f"docs/infrastructure.md's option table has no row for {option}"
        assert rows[option].rstrip().endswith("| yes |"), f"{option} is kept by the next run"
    assert ATTENDANCE_REPORTS_ENABLED in rows[ATTENDANCE] and "OnlineMeetingArtifact.Read.All" in rows[ATTENDANCE]


def test_a_public_log_with_attendance_reports_prints_no_personal_value(fake_azure: FakeAzure) -> None:  # noqa: F811
    choices = ("--alert-email", "ops@contoso.com", "--local-access", ATTENDANCE)
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *choices).returncode == 0

    ci = fake_azure.run(
        "-g", "rg-bridge", "--yes", "--public-log", "--organizer", "ana@contoso.com", "--no-attendance-reports",
        GITHUB_ACTIONS="true",
    )  # fmt: skip

    assert ci.returncode == 0, ci.stderr
    lines = printed(ci)
    for value in PERSONAL:
        assert [line for line in lines if value in line] == [f"::add-mask::{value}"], f"{value} is printed"
    assert "OnlineMeetingArtifact.Read.All is still granted in Entra" in ci.stderr, "the grant left behind is named"
