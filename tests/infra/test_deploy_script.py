"""deploy.sh end to end against a fake `az`: its order, its idempotency, its --what-if, its zip."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    INFRA,
    ONLINE_MEETINGS_READWRITE_ALL,
    PACKAGE_SCRIPT,
)

FAKE_AZ = r'''#!{python}
"""A stand-in for the Azure CLI: logs every call, keeps the state a real tenant would."""
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_AZ_STATE"])
args = sys.argv[1:]
line = " ".join(args)
with (state / "calls.log").open("a") as log:
    log.write(line + "\n")

def out(text):
    print(text)
    sys.exit(0)

def option(name):
    return args[args.index(name) + 1]

if args[:2] == ["account", "show"]:
    if (state / "signed-out").exists():
        sys.exit(1)
    if "user.type" in line:
        out("user")
    if "[name, id]" in line:
        out("Contoso\n11111111-1111-1111-1111-111111111111")
    sys.exit(0)
if args[:2] == ["bicep", "version"]:
    out("Bicep CLI version 0.30.0")
if args[:2] == ["group", "exists"]:
    out("true" if (state / "group").exists() else "false")
if args[:2] == ["group", "create"]:
    (state / "group").write_text(option("--location"))
    sys.exit(0)
if args[:3] in (["deployment", "group", "create"], ["deployment", "group", "what-if"]):
    env = {k: v for k, v in os.environ.items() if k.startswith("BOOKING_BRIDGE_")}
    (state / ("deploy-env-" + args[2] + ".json")).write_text(json.dumps(env))
    sys.exit(0)
if args[:3] == ["deployment", "group", "show"]:
    outputs = {
        "functionAppName": "func-bookingbridge-abc",
        "identityClientId": "22222222-2222-2222-2222-222222222222",
        "identityPrincipalId": "33333333-3333-3333-3333-333333333333",
        "serviceBusNamespaceFqdn": "sb-bookingbridge-abc.servicebus.windows.net",
        "bookingsQueueName": "bookings",
        "resultsQueueName": "meeting-results",
        "graphAppRoleGrantedByTemplate": os.environ.get("BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE", "false").title(),
    }
    out(outputs[option("--query").split(".")[2]])
if args[:2] == ["ad", "signed-in-user"]:
    out("44444444-4444-4444-4444-444444444444")
if args[:2] == ["cloud", "show"]:
    out("https://graph.microsoft.com/")
if args[:3] == ["ad", "sp", "show"]:
    out("1" if "appRoles" in line else "55555555-5555-5555-5555-555555555555")
if args[:1] == ["rest"] and option("--method") == "get":
    granted = (state / "granted").read_text() if (state / "granted").exists() else ""
    role = option("--query").split("appRoleId=='")[1].split("'")[0]
    out("1" if role in granted else "0")
if args[:1] == ["rest"] and option("--method") == "post":
    if (state / "forbidden").exists():
        print("Forbidden", file=sys.stderr)
        sys.exit(1)
    with (state / "granted").open("a") as granted:
        granted.write(option("--body") + "\n")
    sys.exit(0)
if args[:3] == ["functionapp", "deployment", "source"]:
    import zipfile
    with zipfile.ZipFile(option("--src")) as package:
        (state / "package.json").write_text(json.dumps(sorted(package.namelist())))
    sys.exit(0)
print("fake az: unexpected call: " + line, file=sys.stderr)
sys.exit(2)
'''


# What deploy.sh may run besides az: the PATH holds only these, so a real az or func on the
# machine can never be reached (and no Python: the package gets no bytecode here; test_deployed_package checks it).
SCRIPT_TOOLS = ("bash", "cat", "cp", "dirname", "find", "mkdir", "mktemp", "paste", "rm", "sed", "sleep", "zip")


@pytest.fixture
def fake_azure(tmp_path: Path) -> dict[str, Any]:
    """A copy of deploy.sh in a small project, with a fake `az` as the only Azure tool."""
    project = tmp_path / "project"
    for path, text in {
        "host.json": '{"version": "2.0"}',
        "function_app.py": "",
        "requirements.txt": "",
        "shared/settings.py": "",
        "create_meeting_fn/__init__.py": "",
        "shared/__pycache__/settings.cpython-311.pyc": "",
        "tests/test_x.py": "",
        "local.settings.json": "{}",
        ".env": "GRAPH_SECRET=never-shipped",
        "shared/notes.txt": "",
    }.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    (project / "infra").mkdir()
    shutil.copy2(DEPLOY_SCRIPT, project / "infra" / "deploy.sh")
    shutil.copy2(PACKAGE_SCRIPT, project / "infra" / "package.sh")
    state = tmp_path / "state"
    state.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in SCRIPT_TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "az").write_text(FAKE_AZ.replace("{python}", sys.executable))
    (bin_dir / "az").chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir), "FAKE_AZ_STATE": str(state)}
    env.pop("BOOKING_BRIDGE_RESOURCE_GROUP", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "bash"), str(project / "infra" / "deploy.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def calls() -> list[str]:
        log = state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    return {"run": run, "calls": calls, "state": state, "project": project, "bin": bin_dir}


def test_deploy_sh_help_needs_no_azure(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("--help")
    assert completed.returncode == 0
    assert "--what-if" in completed.stdout and "az group delete" in completed.stdout
    assert fake_azure["calls"]() == []


def test_deploy_sh_says_how_to_sign_in(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "signed-out").touch()
    completed = fake_azure["run"]("--resource-group", "rg-bridge")
    assert completed.returncode != 0
    assert "az login" in completed.stderr


def test_deploy_sh_needs_a_location_for_a_new_resource_group(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("--resource-group", "rg-bridge")
    assert completed.returncode != 0
    assert "--location" in completed.stderr
    assert not any(call.startswith("deployment group create") for call in fake_azure["calls"]())


def test_deploy_sh_deploys_publishes_grants_and_prints_the_teams_step(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral", "--organizer", "ana@contoso.com")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure["calls"]()
    assert "group create --name rg-bridge --location swedencentral --output none" in calls
    create = next(call for call in calls if call.startswith("deployment group create"))
    assert "--resource-group rg-bridge" in create and "main.bicepparam" in create
    publish = next(call for call in calls if call.startswith("functionapp deployment source config-zip"))
    assert "--name func-bookingbridge-abc" in publish and "--build-remote true" in publish
    posts = [call for call in calls if call.startswith("rest --method post")]
    assert len(posts) == 1 and "/servicePrincipals/55555555-5555-5555-5555-555555555555/appRoleAssignedTo" in posts[0]
    granted = json.loads((fake_azure["state"] / "granted").read_text())
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


def test_deploy_sh_twice_changes_nothing_the_second_time(fake_azure: dict[str, Any]) -> None:
    assert fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral").returncode == 0
    first = len(fake_azure["calls"]())
    second = fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral")
    assert second.returncode == 0, second.stderr
    again = fake_azure["calls"]()[first:]
    assert not any(call.startswith("group create") for call in again)
    assert not any(call.startswith("rest --method post") for call in again)
    assert "Already granted." in second.stdout


def test_deploy_sh_what_if_changes_nothing(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge", "--what-if")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure["calls"]()
    assert any(call.startswith("deployment group what-if --resource-group rg-bridge") for call in calls)
    changing = ("group create", "deployment group create", "rest --method post", "functionapp")
    assert not [call for call in calls if call.startswith(changing)]


def test_deploy_sh_leaves_the_graph_role_to_the_template_when_asked(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--local-access")
    assert completed.returncode == 0, completed.stderr
    env = json.loads((fake_azure["state"] / "deploy-env-create.json").read_text())
    assert env["BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE"] == "true"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID"] == "44444444-4444-4444-4444-444444444444"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE"] == "User"
    calls = fake_azure["calls"]()
    assert not any(call.startswith("rest") for call in calls)
    assert not any(call.startswith("functionapp") for call in calls)
    assert "Granted by the Bicep deployment." in completed.stdout


def test_deploy_sh_reads_every_environment_variable_main_bicepparam_reads(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    assert fake_azure["run"]("-g", "rg-bridge", "--skip-code").returncode == 0
    exported = set(json.loads((fake_azure["state"] / "deploy-env-create.json").read_text()))
    read = set(re.findall(r"readEnvironmentVariable\('(\w+)'", (INFRA / "main.bicepparam").read_text()))
    assert read <= exported, f"main.bicepparam reads variables deploy.sh never sets: {read - exported}"


def test_deploy_sh_explains_a_graph_grant_it_may_not_make(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    (fake_azure["state"] / "forbidden").touch()
    completed = fake_azure["run"]("-g", "rg-bridge", "--skip-code")
    assert completed.returncode != 0
    assert "Privileged Role Administrator" in completed.stderr
    assert "az rest --method post" in completed.stderr
    # The Teams step is still printed: everything else is deployed.
    assert "New-CsApplicationAccessPolicy" in completed.stdout


def test_deploy_sh_publishes_a_zip_of_the_function_alone(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge")
    assert completed.returncode == 0, completed.stderr
    publish = next(call for call in fake_azure["calls"]() if call.startswith("functionapp deployment source config-zip"))
    assert "--name func-bookingbridge-abc" in publish and "--build-remote true" in publish
    package = json.loads((fake_azure["state"] / "package.json").read_text())
    assert {"host.json", "function_app.py", "requirements.txt", "shared/settings.py"} <= set(package)
    leaked = [
        name
        for name in package
        if name.startswith(("tests/", "infra/", "local.settings", ".env")) or "__pycache__" in name or name == "shared/notes.txt"
    ]
    assert not leaked, leaked
