"""deploy.sh's world without Azure: a copy of the script in a small project, with a fake `az` as its only Azure tool.

The fake keeps the state a real tenant would: whether the resource group exists, the last deployment of each
name with the parameters ARM records for it (resolved from main.bicepparam and the BOOKING_BRIDGE_* environment,
as `az deployment group create` does), its outputs, the Microsoft Graph grants. Files in the state folder make
it fail the way Azure does (signed out, forbidden, a role assignment not yet propagated). `sleep` is a stub that
only records its argument, so bounded retries run at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import DEPLOY_SCRIPT, INFRA, PACKAGE_SCRIPT

# The deployment identity and the package's container, as the fake deployment's outputs name them.
DEPLOYMENT_IDENTITY = "66666666-6666-6666-6666-666666666666"
PACKAGE_CONTAINER = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-bridge/providers/Microsoft.Storage"
    "/storageAccounts/pkgbookingbabc/blobServices/default/containers/app-package"
)
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"

FAKE_AZ = r'''#!{python}
"""A stand-in for the Azure CLI: logs every call, keeps the state a real tenant would."""
import json, os, re, sys
from pathlib import Path

state = Path(os.environ["FAKE_AZ_STATE"])
DEPLOYMENT_IDENTITY = "{deployment_identity}"
PACKAGE_CONTAINER = "{package_container}"
args = sys.argv[1:]
line = " ".join(args)
with (state / "calls.log").open("a") as log:
    log.write(line + "\n")

def out(text):
    print(text)
    sys.exit(0)

def fail(text):
    print(text, file=sys.stderr)
    sys.exit(1)

def option(name):
    return args[args.index(name) + 1]

def countdown(name):
    """True (and one fewer left) while the state file `name` holds a count above zero."""
    path = state / name
    if not path.exists():
        return False
    left = int(path.read_text() or "0")
    if left <= 0:
        return False
    path.write_text(str(left - 1))
    return True

def resolve_parameters(parameters_file):
    """The parameter values ARM records for a deployment of a .bicepparam file."""
    values = {}
    for raw in Path(parameters_file).read_text().splitlines():
        match = re.match(r"^param (\w+) = (.+)$", raw.strip())
        if not match:
            continue
        name, expression = match.groups()
        env = re.fullmatch(r"(bool\()?readEnvironmentVariable\('(\w+)', '([^']*)'\)\)?", expression)
        if env:
            value = os.environ.get(env.group(2), env.group(3))
            if env.group(1):
                if value not in ("true", "false"):
                    fail("InvalidTemplate: bool() of " + repr(value))
                value = value == "true"
        elif expression.startswith("'"):
            value = expression.strip("'")
        elif expression in ("true", "false"):
            value = expression == "true"
        else:
            value = int(expression)
        values[name] = value
    return values

def deployment():
    path = state / "deployment.json"
    return json.loads(path.read_text()) if path.exists() else None

def role_assignments():
    """The Azure role assignments deploy.sh made outside the template (the template's are not modelled)."""
    path = state / "role-assignments.json"
    return json.loads(path.read_text()) if path.exists() else []

def as_text(value):
    """JMESPath's to_string: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)

if args[:2] == ["account", "show"]:
    if (state / "signed-out").exists():
        sys.exit(1)
    if "user.type" in line:
        out("user")
    if "[name, id]" in line:
        out("Contoso\n11111111-1111-1111-1111-111111111111")
    sys.exit(0)
if args[:2] == ["bicep", "version"]:
    out("Bicep CLI version 0.39.26")
if args[:2] == ["group", "exists"]:
    out("true" if (state / "group").exists() else "false")
if args[:2] == ["group", "create"]:
    (state / "group").write_text(option("--location"))
    sys.exit(0)
if args[:3] == ["deployment", "group", "what-if"]:
    env = {k: v for k, v in os.environ.items() if k.startswith("BOOKING_BRIDGE_")}
    (state / "deploy-env-what-if.json").write_text(json.dumps(env))
    resolve_parameters(option("--parameters"))
    out("Resource and property changes are indicated with these symbols: (what-if of " + option("--name") + ")")
if args[:3] == ["deployment", "group", "create"]:
    env = {k: v for k, v in os.environ.items() if k.startswith("BOOKING_BRIDGE_")}
    (state / "deploy-env-create.json").write_text(json.dumps(env))
    parameters = resolve_parameters(option("--parameters"))
    # ARM records the deployment, its parameters included, whether or not it then succeeds.
    (state / "deployment.json").write_text(json.dumps({"name": option("--name"), "parameters": parameters}))
    if parameters.get("grantGraphAppRole") and countdown("graph-not-replicated"):
        (state / "failed-operations").write_text("graph-app-role")
        fail("DeploymentFailed: graph-app-role: Resource '33333333' does not exist or one of its queried"
             " reference-property objects are not present.")
    if (state / "deployment-fails").exists():
        (state / "failed-operations").write_text("storage\nrbac")
        fail("DeploymentFailed: storage, rbac")
    (state / "failed-operations").write_text("")
    (state / "resources").touch()
    sys.exit(0)
if args[:3] == ["deployment", "operation", "group"]:
    failed = (state / "failed-operations").read_text() if (state / "failed-operations").exists() else ""
    out(failed.strip())
if args[:3] == ["deployment", "group", "list"]:
    recorded = deployment()
    prefix = re.search(r"starts_with\(name, '([^']+)'\)", option("--query"))
    if prefix:
        out(recorded["name"] if recorded and recorded["name"].startswith(prefix.group(1)) else "")
    name = re.search(r"name=='([^']+)'", option("--query")).group(1)
    out("1" if recorded and recorded["name"] == name else "0")
if args[:2] == ["resource", "list"]:
    # What a deployment created outlives its record in the deployment history.
    assert "tags.application=='booking-bridge'" in option("--query"), line
    out("7" if (state / "resources").exists() else "0")
if args[:3] == ["deployment", "group", "show"]:
    recorded = deployment()
    if recorded is None or recorded["name"] != option("--name"):
        fail("DeploymentNotFound")
    query = option("--query")
    if query.startswith("properties.parameters."):
        names = re.findall(r"to_string\((\w+)\.value\)", query)
        parameters = recorded["parameters"]
        out("\n".join(as_text(parameters[name]) if name in parameters else "null" for name in names))
    outputs = {
        "functionAppName": "func-bookingbridge-abc",
        "identityClientId": "22222222-2222-2222-2222-222222222222",
        "identityPrincipalId": "33333333-3333-3333-3333-333333333333",
        "serviceBusNamespaceFqdn": "sb-bookingbridge-abc.servicebus.windows.net",
        "bookingsQueueName": "bookings",
        "resultsQueueName": "meeting-results",
        "graphAppRoleGrantedByTemplate": str(recorded["parameters"].get("grantGraphAppRole", False)),
        "deploymentIdentityPrincipalId": DEPLOYMENT_IDENTITY,
        "deploymentContainerId": PACKAGE_CONTAINER,
    }
    out(outputs[query.split(".")[2]])
if args[:3] == ["role", "assignment", "list"]:
    query = option("--query")
    principal = query.split("principalId=='")[1].split("'")[0]
    role = query.split("roleDefinitionId, '/")[1].split("'")[0]
    out("\n".join(
        grant["id"] for grant in role_assignments()
        if grant["principal"] == principal and grant["role"] == role and grant["scope"] == option("--scope")
    ))
if args[:3] == ["role", "assignment", "create"]:
    grants = role_assignments()
    grant = {"principal": option("--assignee-object-id"), "role": option("--role"), "scope": option("--scope")}
    grants.append({**grant, "id": option("--scope") + "/providers/Microsoft.Authorization/roleAssignments/"
                   + "77777777-7777-7777-7777-" + str(len(grants)).zfill(12)})
    (state / "role-assignments.json").write_text(json.dumps(grants))
    sys.exit(0)
if args[:3] == ["role", "assignment", "delete"]:
    grants = [grant for grant in role_assignments() if grant["id"] != option("--ids")]
    (state / "role-assignments.json").write_text(json.dumps(grants))
    sys.exit(0)
if args[:2] == ["ad", "signed-in-user"]:
    out("44444444-4444-4444-4444-444444444444")
if args[:2] == ["cloud", "show"]:
    out("https://graph.microsoft.com/")
if args[:3] == ["ad", "sp", "show"]:
    out("1" if "appRoles" in line else "55555555-5555-5555-5555-555555555555")
if args[:1] == ["rest"] and option("--method") == "get":
    granted = (state / "granted").read_text().splitlines() if (state / "granted").exists() else []
    role = option("--query").split("appRoleId=='")[1].split("'")[0]
    matching = [json.loads(grant) for grant in granted if json.loads(grant)["appRoleId"] == role]
    if option("--query").endswith("[].id"):
        out("\n".join("assignment-" + str(index) for index, _ in enumerate(matching)))
    out(str(len(matching)))
if args[:1] == ["rest"] and option("--method") == "post":
    if (state / "forbidden").exists():
        fail("Forbidden")
    with (state / "granted").open("a") as granted:
        granted.write(option("--body") + "\n")
    sys.exit(0)
if args[:3] == ["functionapp", "deployment", "source"]:
    if countdown("publish-forbidden"):
        fail("ERROR: Status Code: 403, AuthorizationPermissionMismatch")
    import zipfile
    with zipfile.ZipFile(option("--src")) as package:
        (state / "package.json").write_text(json.dumps(sorted(package.namelist())))
    sys.exit(0)
fail("fake az: unexpected call: " + line)
'''

FAKE_SLEEP = """#!/bin/sh
echo "$1" >> "$FAKE_AZ_STATE/sleeps.log"
"""


# What deploy.sh may run besides az: the PATH holds only these, so a real az or func on the
# machine can never be reached (and no Python: the package gets no bytecode here; test_deployed_package checks it).
SCRIPT_TOOLS = ("bash", "cat", "cp", "dirname", "find", "mkdir", "mktemp", "paste", "rm", "sed", "zip")


class FakeAzure:
    """The project, the fake az's state, and deploy.sh run against them."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project"
        self.state = root / "state"
        self.bin = root / "bin"
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
            (self.project / path).parent.mkdir(parents=True, exist_ok=True)
            (self.project / path).write_text(text)
        (self.project / "infra").mkdir()
        for script in (DEPLOY_SCRIPT, PACKAGE_SCRIPT, INFRA / "main.bicepparam"):
            shutil.copy2(script, self.project / "infra" / script.name)
        self.state.mkdir()
        self.bin.mkdir()
        for tool in SCRIPT_TOOLS:
            found = shutil.which(tool)
            if found is None:
                pytest.skip(f"{tool} is not installed")
            (self.bin / tool).symlink_to(found)
        fake_az = (
            FAKE_AZ.replace("{python}", sys.executable)
            .replace("{deployment_identity}", DEPLOYMENT_IDENTITY)
            .replace("{package_container}", PACKAGE_CONTAINER)
        )
        for name, text in (("az", fake_az), ("sleep", FAKE_SLEEP)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.env = {**os.environ, "PATH": str(self.bin), "FAKE_AZ_STATE": str(self.state)}
        for name in list(self.env):
            if name.startswith("BOOKING_BRIDGE_"):
                del self.env[name]

    def run(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        """deploy.sh with these arguments; `stdin` answers its question (none: no answer at all)."""
        return subprocess.run(
            [str(self.bin / "bash"), str(self.project / "infra" / "deploy.sh"), *args],
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def deployed_env(self, kind: str = "create") -> dict[str, str]:
        """The BOOKING_BRIDGE_* environment of the last `az deployment group create` (or what-if)."""
        return json.loads((self.state / f"deploy-env-{kind}.json").read_text())

    def recorded_parameters(self) -> dict[str, Any]:
        """The parameters ARM recorded for the last deployment."""
        return json.loads((self.state / "deployment.json").read_text())["parameters"]

    def granted_roles(self) -> list[str]:
        path = self.state / "granted"
        return [json.loads(grant)["appRoleId"] for grant in path.read_text().splitlines()] if path.exists() else []

    def role_assignments(self) -> list[dict[str, str]]:
        """The Azure role assignments deploy.sh made outside the template and has not removed."""
        path = self.state / "role-assignments.json"
        return json.loads(path.read_text()) if path.exists() else []

    def grant_package_write(self) -> None:
        """The deployment identity's write on the package, as a deployment made before deploy.sh granted it left it."""
        grant = {"principal": DEPLOYMENT_IDENTITY, "role": STORAGE_BLOB_DATA_CONTRIBUTOR, "scope": PACKAGE_CONTAINER}
        assignment = PACKAGE_CONTAINER + "/providers/Microsoft.Authorization/roleAssignments/88888888-8888-8888-8888-888888888888"
        (self.state / "role-assignments.json").write_text(json.dumps([{**grant, "id": assignment}]))

    def sleeps(self) -> list[str]:
        path = self.state / "sleeps.log"
        return path.read_text().split() if path.exists() else []

    def with_resource_group(self) -> FakeAzure:
        (self.state / "group").write_text("swedencentral")
        return self

    def failing(self, name: str, times: int | None = None) -> None:
        """Make the fake fail: `name` is a state file; `times` a count of failures, else for good."""
        (self.state / name).write_text("" if times is None else str(times))


@pytest.fixture
def fake_azure(tmp_path: Path) -> FakeAzure:
    return FakeAzure(tmp_path)
