"""deploy.sh end to end against a fake `az`: its order, its idempotency, its --what-if, its zip, its Graph grants."""

from __future__ import annotations

import json
import re

from tests.infra.bicep import DEPLOY_SCRIPT, INFRA, ONLINE_MEETINGS_READWRITE_ALL, REPO_ROOT
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)

DOCS = REPO_ROOT / "docs" / "infrastructure.md"


def test_deploy_sh_help_needs_no_azure(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.run("--help")
    assert completed.returncode == 0
    assert "--what-if" in completed.stdout and "az group delete" in completed.stdout
    assert fake_azure.calls() == []


def test_deploy_sh_says_how_to_sign_in(fake_azure: FakeAzure) -> None:  # noqa: F811
    (fake_azure.state / "signed-out").touch()
    completed = fake_azure.run("--resource-group", "rg-bridge")
    assert completed.returncode != 0
    assert "az login" in completed.stderr


def test_deploy_sh_needs_a_location_for_a_new_resource_group(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.run("--resource-group", "rg-bridge", "--yes")
    assert completed.returncode != 0
    assert "--location" in completed.stderr
    assert not any(call.startswith(("group create", "deployment group create")) for call in fake_azure.calls())


def test_deploy_sh_deploys_publishes_grants_and_prints_the_teams_step(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--organizer", "ana@contoso.com", "--yes")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure.calls()
    assert "group create --name rg-bridge --location swedencentral --output none" in calls
    create = next(call for call in calls if call.startswith("deployment group create"))
    assert "--resource-group rg-bridge" in create and "main.bicepparam" in create
    publish = next(call for call in calls if call.startswith("functionapp deployment source config-zip"))
    assert "--name func-bookingbridge-abc" in publish and "--build-remote true" in publish
    posts = [call for call in calls if call.startswith("rest --method post")]
    assert len(posts) == 1 and "/servicePrincipals/55555555-5555-5555-5555-555555555555/appRoleAssignedTo" in posts[0]
    granted = json.loads((fake_azure.state / "granted").read_text())
    assert granted == {
        "principalId": "33333333-3333-3333-3333-333333333333",
        "resourceId": "55555555-5555-5555-5555-555555555555",
        "appRoleId": ONLINE_MEETINGS_READWRITE_ALL,
    }
    out = completed.stdout
    assert 'New-CsApplicationAccessPolicy -Identity BookingBridge -AppIds "22222222-2222-2222-2222-222222222222"' in out
    assert 'Grant-CsApplicationAccessPolicy -PolicyName BookingBridge -Identity "ana@contoso.com"' in out
    assert "Grant-CsApplicationAccessPolicy -PolicyName BookingBridge -Global" in out
    assert "30 minutes" in out


def test_deploy_sh_warns_where_it_prints_the_global_access_policy(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes")
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    after_global = out[out.index("-PolicyName BookingBridge -Global") :]
    assert "WARNING: -Global lets the bridge create meetings for EVERY user of the tenant" in after_global


def test_deploy_sh_twice_changes_nothing_the_second_time(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--yes").returncode == 0
    first = len(fake_azure.calls())
    second = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--yes")
    assert second.returncode == 0, second.stderr
    again = fake_azure.calls()[first:]
    assert not any(call.startswith("group create") for call in again)
    assert not any(call.startswith("rest --method post") for call in again)
    assert "Already granted." in second.stdout


def test_deploy_sh_what_if_changes_nothing(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--what-if")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure.calls()
    assert any(call.startswith("deployment group what-if --resource-group rg-bridge") for call in calls)
    changing = ("group create", "deployment group create", "rest --method post", "functionapp")
    assert not [call for call in calls if call.startswith(changing)]


def test_deploy_sh_what_if_passes_the_validation_level_for_a_read_only_identity(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--what-if", "--validation-level", "ProviderNoRbac")
    assert completed.returncode == 0, completed.stderr
    (what_if,) = [call for call in fake_azure.calls() if call.startswith("deployment group what-if")]
    assert what_if.endswith("--validation-level ProviderNoRbac")
    refused = fake_azure.run("-g", "rg-bridge", "--what-if", "--validation-level", "Anything")
    assert refused.returncode != 0 and "--validation-level must be" in refused.stderr


def test_deploy_sh_leaves_the_graph_role_to_the_template_when_asked(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run(
        "-g", "rg-bridge", "--graph-in-template", "--skip-code", "--local-access", "--yes"
    )
    assert completed.returncode == 0, completed.stderr
    env = fake_azure.deployed_env()
    assert env["BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE"] == "true"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID"] == "44444444-4444-4444-4444-444444444444"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE"] == "User"
    calls = fake_azure.calls()
    assert not any(call.startswith("rest --method post") for call in calls), "granted by the template alone"
    assert not any(call.startswith("functionapp") for call in calls)
    assert "Granted by the Bicep deployment." in completed.stdout


def test_deploy_sh_reads_every_environment_variable_main_bicepparam_reads(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--yes").returncode == 0
    exported = set(fake_azure.deployed_env())
    read = set(re.findall(r"readEnvironmentVariable\('(\w+)'", (INFRA / "main.bicepparam").read_text()))
    assert read <= exported, f"main.bicepparam reads variables deploy.sh never sets: {read - exported}"


def test_deploy_sh_explains_a_graph_grant_it_may_not_make(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("forbidden")
    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    assert completed.returncode != 0
    assert "Privileged Role Administrator" in completed.stderr
    assert "az rest --method post" in completed.stderr
    # The Teams step is still printed: everything else is deployed.
    assert "New-CsApplicationAccessPolicy" in completed.stdout


def test_deploy_sh_without_entra_rights_leaves_graph_alone_and_says_what_to_grant(fake_azure: FakeAzure) -> None:  # noqa: F811
    """CI's deploying identity holds Azure roles only: --skip-graph-grant neither reads nor writes Graph."""
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--skip-code", "--skip-graph-grant", "--yes")
    assert completed.returncode == 0, completed.stderr
    assert not [call for call in fake_azure.calls() if call.startswith(("rest", "ad sp"))]
    assert "needs OnlineMeetings.ReadWrite.All" in completed.stdout
    assert "33333333-3333-3333-3333-333333333333" in completed.stdout


def test_deploy_sh_publishes_a_zip_of_the_function_alone(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--yes")
    assert completed.returncode == 0, completed.stderr
    publish = next(call for call in fake_azure.calls() if call.startswith("functionapp deployment source config-zip"))
    assert "--name func-bookingbridge-abc" in publish and "--build-remote true" in publish
    package = json.loads((fake_azure.state / "package.json").read_text())
    assert {"host.json", "function_app.py", "requirements.txt", "shared/settings.py"} <= set(package)
    leaked = [
        name
        for name in package
        if name.startswith(("tests/", "infra/", "local.settings", ".env")) or "__pycache__" in name or name == "shared/notes.txt"
    ]
    assert not leaked, leaked


def deploy_sh_options() -> set[str]:
    """Every option deploy.sh's argument parser takes, long and short, from its `case` labels."""
    parser = DEPLOY_SCRIPT.read_text().split("parse_arguments() {", 1)[1].split("\n}\n", 1)[0]
    labels = re.findall(r"^\s+(-[-\w| ]+)\)$", parser, re.M)
    return {option.strip() for label in labels for option in label.split("|")}


def test_every_deploy_sh_option_is_in_its_help_and_in_the_docs_table(fake_azure: FakeAzure) -> None:  # noqa: F811
    options = deploy_sh_options()
    assert {"--alert-email", "--calendar-events", "--calendar-access", "--private-networking", "--yes"} <= options
    help_text = fake_azure.run("--help").stdout
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| `-")]
    documented = {option for row in rows for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", row.split("|")[1])}
    for option in sorted(options):
        assert option in help_text, f"deploy.sh --help does not name {option}"
        assert option in documented, f"docs/infrastructure.md's option table has no row for {option}"
    assert documented <= options, f"the docs table names options deploy.sh does not take: {documented - options}"
