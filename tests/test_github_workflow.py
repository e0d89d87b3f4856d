""".github/: the CI workflow users run on their own copy, its nightly run of the long properties, and Dependabot,
checked without GitHub.

Both files are validated against the schemas GitHub's own tooling publishes (check-jsonschema's
vendored copies), the workflow is audited by zizmor offline, and the tests below hold it to what
docs/ci.md promises: the README's test command on every Python infra allows, the real Bicep compiler
and linter at a pinned version, a what-if only with a federated credential for an identity that can
only read, a deployment only on demand from main in a protected environment, actions pinned by
commit SHA, and least-privilege permissions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.infra.bicep import INFRA, parse_bicep, parse_bicepparam

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
# Every test once a night with the properties' long profile.
NIGHTLY = REPO_ROOT / ".github" / "workflows" / "properties.yml"
WORKFLOWS = [WORKFLOW, NIGHTLY]
# The longest a job may run: minutes, by workflow.
TIME_LIMITS = {WORKFLOW: 30, NIGHTLY: 90}
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"
CI_DOCS = REPO_ROOT / "docs" / "ci.md"
# The console scripts requirements-dev.txt installs next to the interpreter running the tests.
VENV_BIN = Path(sys.executable).parent

FULL_SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40})$")


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def workflow() -> dict[str, Any]:
    return load(WORKFLOW)


def steps(job: str) -> list[dict[str, Any]]:
    return workflow()["jobs"][job]["steps"]


def commands(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def tool(name: str) -> str:
    """A console script from requirements-dev.txt; fail under CI=true, else skip, when it is missing."""
    path = VENV_BIN / name
    if path.is_file():
        return str(path)
    message = f"{name} is not installed next to {sys.executable}: pip install -r requirements-dev.txt"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def deployed_python() -> str:
    """The runtime's Python: main.bicepparam's pythonVersion, which deploy.sh deploys with."""
    return parse_bicepparam(INFRA / "main.bicepparam")["pythonVersion"]


def allowed_pythons() -> list[str]:
    (allowed,) = [
        decorator["argument"]
        for decorator in parse_bicep(INFRA / "main.bicep")["parameters"]["pythonVersion"]["decorators"]
        if decorator["type"] == "allowed"
    ]
    return allowed


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


# ---------------------------------------------------------------- schemas and audit


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (NIGHTLY, "vendor.github-workflows"), (DEPENDABOT, "vendor.dependabot")],
    ids=["workflow", "nightly workflow", "dependabot"],
)
def test_file_validates_against_githubs_schema(path: Path, schema: str) -> None:
    completed = run(tool("check-jsonschema"), "--builtin-schema", schema, str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_zizmor_finds_nothing_of_medium_or_high_severity() -> None:
    completed = run(tool("zizmor"), "--offline", "--format", "json", str(REPO_ROOT / ".github"))
    try:
        findings = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor printed no JSON (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    serious = [
        f"{finding['ident']} ({finding['determinations']['severity']}): {finding['desc']}"
        for finding in findings
        if finding["determinations"]["severity"] in ("Medium", "High")
    ]
    assert not serious, "\n".join(serious)


# ---------------------------------------------------------------- what the jobs do


def test_the_test_job_runs_the_readmes_test_command_on_every_python_infra_allows() -> None:
    assert "bash .ci/run" in (REPO_ROOT / "README.md").read_text()
    assert commands("test").strip() == "bash .ci/run"
    job = workflow()["jobs"]["test"]
    assert sorted(job["strategy"]["matrix"]["python"]) == sorted(allowed_pythons())
    assert job["strategy"]["fail-fast"] is False, "one version's failure must not hide another's"
    (python,) = [step["with"]["python-version"] for step in steps("test") if "setup-python" in step.get("uses", "")]
    assert python == "${{ matrix.python }}"
    (node,) = [step["with"]["node-version"] for step in steps("test") if "setup-node" in step.get("uses", "")]
    # .ci/run warns below Node.js 20, the oldest the pinned Azurite (tools/) supports.
    assert int(node) >= 20


def test_the_bicep_job_builds_and_lints_with_the_real_compiler() -> None:
    script = commands("bicep")
    assert 'az bicep install --version "$BICEP_VERSION"' in script
    assert "az bicep build --file infra/main.bicep" in script
    assert "az bicep build-params --file infra/main.bicepparam" in script
    # The loop covers main.bicep and every module.
    assert "for template in infra/main.bicep infra/modules/*.bicep" in script
    assert 'az bicep lint --file "$template"' in script


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_bicep_install_is_the_pinned_version(path: Path) -> None:
    """The Bicep CLI is part of the pinned toolset: one version, set once, bumped by hand as docs/ci.md says."""
    text = path.read_text()
    installs = re.findall(r"az bicep install[^\n]*", text)
    assert all(install == 'az bicep install --version "$BICEP_VERSION"' for install in installs), installs
    if installs:
        version = load(path)["env"]["BICEP_VERSION"]
        assert re.fullmatch(r"v\d+\.\d+\.\d+", version), version
        assert f"`{version}`" in CI_DOCS.read_text(), "docs/ci.md names the pinned Bicep version"


def test_the_what_if_job_runs_only_with_a_federated_credential_and_reads_only() -> None:
    job = workflow()["jobs"]["what-if"]
    for variable in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP"):
        assert f"vars.{variable} != ''" in job["if"], variable
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    # GitHub treats Dependabot's runs as a fork's: the merge to main runs their what-if.
    assert "github.event.pull_request.user.login != 'dependabot[bot]'" in job["if"]
    assert "environment" not in job, "the what-if identity needs no protected environment: it can only read"
    (login,) = [step for step in job["steps"] if step.get("uses", "").startswith("azure/login@")]
    assert login["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    assert "secrets." not in WORKFLOW.read_text(), "OIDC only: the workflow reads no secret"
    (deploy,) = [step for step in job["steps"] if "deploy.sh" in step.get("run", "")]
    # ProviderNoRbac: provider validation with read checks, so Reader plus the what-if action is enough.
    assert deploy["run"] == (
        'infra/deploy.sh --what-if --validation-level ProviderNoRbac --public-log --resource-group "$RESOURCE_GROUP"'
    )
    assert deploy["env"]["RESOURCE_GROUP"] == "${{ vars.AZURE_RESOURCE_GROUP }}"
    script = (REPO_ROOT / "infra" / "deploy.sh").read_text()
    assert "--what-if" in script and "--validation-level" in script


def test_only_a_dispatch_from_main_deploys_and_only_in_the_protected_environment() -> None:
    document = workflow()
    assert set(document["on"]) == {"push", "pull_request", "workflow_dispatch"}
    job = document["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert "github.event_name == 'workflow_dispatch'" in job["if"]
    assert "github.ref == 'refs/heads/main'" in job["if"]
    assert "vars.AZURE_DEPLOY_CLIENT_ID != ''" in job["if"]
    assert job["needs"] == ["what-if"], "a deployment follows a what-if of the same commit"
    assert job["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}, "one at a time, never cancelled"
    (login,) = [step for step in job["steps"] if step.get("uses", "").startswith("azure/login@")]
    assert login["with"]["client-id"] == "${{ vars.AZURE_DEPLOY_CLIENT_ID }}"
    (deploy,) = [step for step in job["steps"] if "deploy.sh" in step.get("run", "")]
    assert deploy["run"] == 'infra/deploy.sh --yes --skip-graph-grant --public-log --resource-group "$RESOURCE_GROUP"'
    (python,) = [step["with"]["python-version"] for step in job["steps"] if "setup-python" in step.get("uses", "")]
    assert python == deployed_python(), "the package's bytecode is for the runtime's Python"
    # No other job may name the deploying identity or a protected environment: a pull request's jobs
    # only ever see the read-only one.
    for name, other in document["jobs"].items():
        if name != "deploy":
            assert "environment" not in other, name
            assert "AZURE_DEPLOY_CLIENT_ID" not in json.dumps(other), name


def ci_docs_section(title: str) -> str:
    return CI_DOCS.read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_what_if_role_reads_what_the_templates_declare_and_no_data() -> None:
    """The identity a pull request can reach: the read of every resource type the templates declare, the deployment
    history and what-if itself; no write, no wildcard (Reader's */read would include querying logs and telemetry)."""
    (block,) = re.findall(r"```json\n(.*?)```", ci_docs_section("Turning on the what-if job"), re.S)
    actions = set(json.loads(block)["Actions"])
    declared = {
        resource["type"]
        for path in sorted(INFRA.rglob("*.bicep"))
        for resource in parse_bicep(path).get("resources", {}).values()
        if not resource["type"].startswith("Microsoft.Graph/")
    }
    assert declared, "the templates declare resources"
    missing = {f"{resource_type}/read" for resource_type in declared} - actions
    assert not missing, f"what-if cannot read {sorted(missing)}"
    assert {"Microsoft.Resources/deployments/whatIf/action", "Microsoft.Resources/deployments/validate/action"} <= actions
    assert "Microsoft.Resources/deployments/read" in actions, "deploy.sh reads the kept choices from the history"
    beyond_reading = {action for action in actions if not action.endswith("/read")}
    assert beyond_reading == {"Microsoft.Resources/deployments/whatIf/action", "Microsoft.Resources/deployments/validate/action"}
    assert not [action for action in actions if "*" in action or "/query/" in action.lower()]


def test_the_deploying_identity_may_also_grant_and_take_back_the_publish_write() -> None:
    """deploy.sh grants the deployment identity write on the package while it publishes: the condition allows it."""
    (role,) = re.findall(r'^readonly BLOB_DATA_CONTRIBUTOR_ROLE_ID="([0-9a-f-]+)"$', (INFRA / "deploy.sh").read_text(), re.M)
    section = ci_docs_section("Turning on the deploy job")
    assert role in section and "roleAssignments/delete" in section


def test_no_one_approves_a_deployment_they_started_and_main_takes_no_unreviewed_push() -> None:
    section = ci_docs_section("Turning on the deploy job")
    assert "**Required reviewers**" in section and "**Prevent self-review**" in section
    assert "allow `main` only" in section
    assert "Protect `main`" in section and "require a pull request" in section


# ---------------------------------------------------------------- supply chain and privileges


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_full_commit_sha_with_its_version(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if re.match(r"\s*(-\s*)?uses:", line)]
    assert lines
    for line in lines:
        match = re.fullmatch(r"\s*(?:-\s*)?uses:\s*(\S+)\s+#\s+(v\d+\.\d+\.\d+)\s*", line)
        assert match, f"not pinned by SHA with a # vX.Y.Z comment: {line.strip()}"
        assert FULL_SHA_PIN.match(match.group(1)), line.strip()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_read_only_except_the_token_the_login_needs(path: Path) -> None:
    document = load(path)
    assert document["permissions"] == {"contents": "read"}
    for name, job in document["jobs"].items():
        logs_in = any(step.get("uses", "").startswith("azure/login@") for step in job["steps"])
        permissions = job.get("permissions")
        if logs_in:
            assert permissions == {"contents": "read", "id-token": "write"}, name
        else:
            assert permissions is None, f"{name} needs nothing beyond the workflow's contents: read"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_checkout_leaves_the_token_on_disk(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_has_a_time_limit(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= TIME_LIMITS[path], name


def test_the_nightly_job_runs_the_readmes_test_command_with_the_long_profile() -> None:
    """The same command as the test job, on the same Python and Node.js, with every property's long profile."""
    (job,) = load(NIGHTLY)["jobs"].values()
    (run_step,) = [step for step in job["steps"] if "run" in step]
    assert (run_step["run"].strip(), run_step["env"]) == ("bash .ci/run", {"HYPOTHESIS_PROFILE": "long"})
    setups = {step["uses"].split("@")[0]: step.get("with") for step in job["steps"] if "uses" in step}
    assert setups["actions/setup-python"] == {"python-version": deployed_python()}
    assert setups["actions/setup-node"] == {"node-version": "20"}
    assert set(load(NIGHTLY)["on"]) == {"schedule", "workflow_dispatch"}


def test_dependabot_covers_python_azurite_and_the_actions() -> None:
    updates = {(update["package-ecosystem"], update["directory"]) for update in load(DEPENDABOT)["updates"]}
    assert updates == {("pip", "/"), ("npm", "/tools"), ("github-actions", "/")}
    assert (REPO_ROOT / "requirements.txt").is_file() and (REPO_ROOT / "tools" / "package-lock.json").is_file()
