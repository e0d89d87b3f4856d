"""A redeploy never undoes the operator's choices or widens a grant, waits only for what waiting fixes, and no
identity holds more than it needs: calendar scoping kept, local access that can be withdrawn, choices that are
never replaced by defaults when they cannot be read, bounded retries that report any other failure as Azure or
Graph gave it, a production deployment no later run cancels, a deploying identity that may grant only the template's
roles, an app that cannot rewrite its own package, and every tool CI runs pinned.

The deploy.sh tests run it against the fake `az` of tests/infra/fake_azure.py, wrapped, where Azure must fail in a
way the fake does not model, by a small `az` that answers some calls itself and passes the rest on; the others read
the templates, the workflow and the docs the way the other infra tests do.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from ruamel.yaml import YAML

from tests.infra.bicep import (
    MODULES,
    REPO_ROOT,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_OWNER,
    module_params,
    parse_bicep,
    reference,
    resources_of_type,
    unwrap_condition,
    variable,
)
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)

CALENDARS_READWRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"
CI_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
CI_DOCS = REPO_ROOT / "docs" / "ci.md"

# An `az` in front of the fake one: a call that starts with a rule's prefix fails with the rule's message (the
# rule's `times`, or for good when it has none); every other call goes to the fake, which keeps the state.
WRAPPER = r"""#!{python}
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_AZ_STATE"])
args = sys.argv[1:]
line = " ".join(args)
rules_file = state / "failing-calls.json"
rules = json.loads(rules_file.read_text()) if rules_file.exists() else []
for rule in rules:
    if line.startswith(rule["prefix"]) and rule.get("times", 1) != 0:
        if "times" in rule:
            rule["times"] -= 1
            rules_file.write_text(json.dumps(rules))
        with (state / "calls.log").open("a") as log:
            log.write(line + "\n")
        print(rule["stderr"], file=sys.stderr)
        sys.exit(1)
real = str(Path(__file__).with_name("az-fake"))
os.execv(real, [real, *args])
"""


def failing_az(azure: FakeAzure, *rules: dict[str, Any]) -> FakeAzure:
    """Put WRAPPER in front of the fake az, with these rules (prefix, stderr, optional times)."""
    fake = azure.bin / "az"
    if not (azure.bin / "az-fake").exists():
        fake.rename(azure.bin / "az-fake")
        fake.write_text(WRAPPER.replace("{python}", sys.executable))
        fake.chmod(0o755)
    (azure.state / "failing-calls.json").write_text(json.dumps(list(rules)))
    return azure


def creates(azure: FakeAzure) -> list[str]:
    return [call for call in azure.calls() if call.startswith("deployment group create")]


# ---------------------------------------------------------------- the calendar grant and the kept choices


def test_a_deployment_made_before_calendar_access_existed_is_never_widened_to_every_mailbox(
    fake_azure: FakeAzure,  # noqa: F811
) -> None:
    """A deployment made before calendarAccess existed records calendar mode on and no access. Its operator may have
    scoped Calendars.ReadWrite with Exchange RBAC for Applications and removed the tenant-wide Entra grant, as the
    docs then said. A rerun without flags must not take the default, `entra`, and grant every mailbox again: with
    calendar mode on and the access unknown, deploy.sh stops and asks for --calendar-access."""
    fake_azure.with_resource_group()
    assert fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-events").returncode == 0
    # The record as a deployment from before calendarAccess left it, and the Entra grant the operator removed.
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    del record["parameters"]["calendarAccess"]
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))
    (fake_azure.state / "granted").unlink()

    rerun = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert CALENDARS_READWRITE not in fake_azure.granted_roles(), (
        "an upgrade rerun granted Calendars.ReadWrite tenant-wide again:\n" + rerun.stdout[-1500:]
    )


def test_turning_calendar_mode_off_names_the_tenant_wide_calendars_grant_it_leaves_behind(
    fake_azure: FakeAzure,  # noqa: F811
) -> None:
    """--no-calendar-events turns the feature off; the identity would still hold Calendars.ReadWrite on every mailbox
    of the tenant from the earlier --calendar-events run. deploy.sh names that grant with the command that removes
    it, as it does for calendar mode with Exchange access (it never deletes a grant itself)."""
    fake_azure.with_resource_group()
    assert fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-events").returncode == 0
    assert CALENDARS_READWRITE in fake_azure.granted_roles()

    off = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--no-calendar-events")

    assert off.returncode == 0, off.stderr
    assert CALENDARS_READWRITE in fake_azure.granted_roles(), "the grant is still there"
    assert "Calendars.ReadWrite" in off.stderr and "--method delete" in off.stderr, (
        "calendar mode is off, every mailbox is still writable, and nothing said so:\n" + off.stderr
    )


def test_local_access_once_given_can_be_taken_back(fake_azure: FakeAzure) -> None:  # noqa: F811
    """--local-access is kept by every later run, from any machine or CI, so that its grants survive a redeploy;
    --no-local-access withdraws it without resetting any other choice (otherwise every deployment would grant that
    principal send and receive again, also after an operator removed the grants by hand)."""
    fake_azure.with_resource_group()
    assert fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--local-access").returncode == 0

    withdrawn = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--no-local-access")

    assert withdrawn.returncode == 0, withdrawn.stderr
    assert fake_azure.recorded_parameters()["deployerPrincipalId"] == ""


def test_a_failed_resource_group_check_is_not_taken_for_a_new_group(fake_azure: FakeAzure) -> None:  # noqa: F811
    """A failed `az group exists` (throttling, a network blip, an expired token) is not 'false'. Taken for a new
    group, with --location on the command line (the README's command, rerun from history), it would skip the kept
    choices and the what-if and deploy the defaults over the existing bridge: calendar mode off, the alert email
    gone, the public endpoints reopened. deploy.sh stops instead, having changed nothing."""
    choices = ("--alert-email", "ops@contoso.com", "--calendar-events", "--private-networking")
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *choices).returncode == 0
    chosen = fake_azure.recorded_parameters()
    failing_az(fake_azure, {"prefix": "group exists", "stderr": "ERROR: (TooManyRequests) retry later", "times": 1})

    rerun = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes")

    kept = fake_azure.recorded_parameters()
    assert (kept["alertEmail"], kept["calendarEvents"], kept["privateNetworking"]) == (
        chosen["alertEmail"],
        chosen["calendarEvents"],
        chosen["privateNetworking"],
    ), f"one failed check reset the operator's choices (exit {rerun.returncode}):\n{rerun.stdout[-1200:]}"


def test_ci_never_deploys_defaults_over_choices_it_cannot_find(fake_azure: FakeAzure) -> None:  # noqa: F811
    """CI keeps the operator's choices by reading the deployment named booking-bridge-<app name>. When it cannot
    find it in a resource group that holds a bridge (the operator deployed with -n and BOOKING_BRIDGE_APP_NAME is
    unset, or ARM pruned the record from the group's deployment history), deploying the defaults would build a
    second bridge with public endpoints, no alert email and calendar mode off, or turn the first one's private
    networking off. A run that cannot find the choices and may not ask (--yes) stops."""
    operator = fake_azure.run(
        "-g", "rg-bridge", "-l", "swedencentral", "-n", "bridgeprod", "--skip-code", "--yes",
        "--alert-email", "ops@contoso.com", "--private-networking",
    )  # fmt: skip
    assert operator.returncode == 0, operator.stderr
    operator_creates = len(creates(fake_azure))

    # CI's deploy step, with vars.BOOKING_BRIDGE_APP_NAME unset (GitHub passes an empty string).
    ci = fake_azure.run("--yes", "--skip-graph-grant", "--skip-code", "--resource-group", "rg-bridge", BOOKING_BRIDGE_APP_NAME="")

    assert len(creates(fake_azure)) == operator_creates and ci.returncode != 0, (
        "CI deployed without the operator's choices: "
        + json.dumps({k: fake_azure.recorded_parameters()[k] for k in ("appName", "alertEmail", "privateNetworking")})
    )


# ---------------------------------------------------------------- bounded retries that do not hide failures


def test_publishing_retries_only_what_role_propagation_explains(fake_azure: FakeAzure) -> None:  # noqa: F811
    """Publishing is retried, bounded, only while a new role assignment has not reached storage (a 403). Anything
    else, here a remote build that cannot install requirements.txt, fails at once with its error: retrying it would
    only wait and blame role propagation."""
    fake_azure.with_resource_group()
    failing_az(
        fake_azure,
        {
            "prefix": "functionapp deployment source config-zip",
            "stderr": "ERROR: Deployment failed. Remote build failed: pip install -r requirements.txt exited with 1",
        },
    )

    completed = fake_azure.run("-g", "rg-bridge", "--yes")

    publishes = [call for call in fake_azure.calls() if call.startswith("functionapp deployment source config-zip")]
    assert completed.returncode != 0
    assert len(publishes) == 1, f"a build failure was retried {len(publishes)} times as 'role propagation'"


def test_the_templates_graph_role_is_not_redeployed_for_a_permanent_refusal(fake_azure: FakeAzure) -> None:  # noqa: F811
    """With --graph-in-template, the deployment is run again only when the Graph app role module failed because the
    identity is not in Microsoft Graph yet. A deployer without the Entra right to assign app roles
    (Authorization_RequestDenied) is refused for good: one deployment, and the error, not six and a story about
    replication."""
    fake_azure.with_resource_group()
    (fake_azure.state / "failed-operations").write_text("graph-app-role")
    failing_az(
        fake_azure,
        {
            "prefix": "deployment group create",
            "stderr": "ERROR: DeploymentFailed: graph-app-role: Authorization_RequestDenied: Insufficient privileges to"
            " complete the operation.",
        },
    )

    completed = fake_azure.run("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert len(creates(fake_azure)) == 1, (
        f"a permanent refusal was deployed {len(creates(fake_azure))} times, sleeping {fake_azure.sleeps()}"
    )


def test_a_graph_refusal_is_reported_not_waited_out_as_replication(fake_azure: FakeAzure) -> None:  # noqa: F811
    """Listing the identity's app role assignments waits only while Graph answers that the identity does not exist
    yet. Any other failure (no right to read them, a wrong cloud, the network) is shown as Graph or az gave it,
    instead of a wait and the advice to run again in a few minutes, which would fail the same way."""
    fake_azure.with_resource_group()
    failing_az(
        fake_azure,
        {
            "prefix": "rest --method get",
            "stderr": 'Forbidden({"error":{"code":"Authorization_RequestDenied",'
            '"message":"Insufficient privileges to complete the operation."}})',
        },
    )

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert "Authorization_RequestDenied" in completed.stderr, (
        f"slept {fake_azure.sleeps()} and said only:\n{completed.stderr[-800:]}"
    )


def test_the_graph_grant_still_waits_while_graph_does_not_know_the_identity(fake_azure: FakeAzure) -> None:  # noqa: F811
    """The one Graph failure waiting fixes: a new identity's service principal is not in Microsoft Graph yet."""
    fake_azure.with_resource_group()
    failing_az(
        fake_azure,
        {
            "prefix": "rest --method get",
            "stderr": 'Not Found({"error":{"code":"Request_ResourceNotFound","message":"Resource \'33333333\' does not'
            ' exist or one of its queried reference-property objects are not present."}})',
            "times": 2,
        },
    )

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    assert fake_azure.sleeps() == ["20", "20"]
    assert "Waiting for the identity to appear in Microsoft Graph (attempt 2 of 6)" in completed.stdout
    assert "b8bb2037-6e08-44ac-a4ea-4674e010e2a4" in fake_azure.granted_roles()


# ---------------------------------------------------------------- CI


def test_a_running_production_deployment_is_never_cancelled_by_a_later_run() -> None:
    """A push to main while the on-demand `deploy` runs (or a second dispatch) must not cancel it mid-way, between
    `az deployment group create` and the code publish, leaving the infrastructure and the code out of step. GitHub's
    cancel-in-progress cancels 'any currently running job or workflow in the same concurrency group', so a dispatched
    run never shares a cancelling group with pushes, and the deploy job has a group of its own."""
    document = YAML(typ="safe").load(CI_WORKFLOW.read_text())

    def group(event: str) -> str:
        concurrency = document["concurrency"]
        text = concurrency["group"] if isinstance(concurrency, dict) else concurrency
        values = {"github.workflow": "CI", "github.ref": "refs/heads/main", "github.event_name": event}
        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), text)

    cancels = document["concurrency"].get("cancel-in-progress") if isinstance(document["concurrency"], dict) else False
    deploy_concurrency = document["jobs"]["deploy"].get("concurrency")
    shares = group("workflow_dispatch") == group("push")
    assert not (cancels is True and (shares or deploy_concurrency is None)), (
        f"deploy runs in group {group('workflow_dispatch')!r}, shared with pushes ({shares}), cancel-in-progress: true"
    )


def test_the_deploying_identity_can_grant_only_the_roles_the_template_assigns() -> None:
    """Unconditioned, Role Based Access Control Administrator may assign Owner (or anything) to any principal on the
    resource group, which would make the deploying identity Owner in all but name. docs/ci.md gives it with a
    condition, in the command, that limits it to the roles rbac.bicep assigns."""
    text = CI_DOCS.read_text()
    section = text.split("## Turning on the deploy job", 1)[1].split("\n## ", 1)[0]
    rbac = parse_bicep(MODULES / "rbac.bicep")
    granted = {variable(rbac, name) for name in rbac["variables"]}
    assert "--condition" in section and all(role in section for role in granted), (
        "the deploying identity's Role Based Access Control Administrator is given without a condition"
    )


# ---------------------------------------------------------------- who may write the package


def test_no_identity_the_running_app_can_use_may_write_its_own_package() -> None:
    """Code running in the app can ask the platform's identity endpoint for a token of any identity attached to the
    site, the deployment identity included (Flex Consumption requires it attached). So no identity attached to the
    app holds a standing write on the package's container or account: a package the app replaced would survive
    restarts and scale-out until the next deploy. deploy.sh lets the deployment identity write only while it
    publishes (tests/infra/test_package_write_grant.py)."""
    site = parse_bicep(MODULES / "functionapp.bicep")["resources"]["site"]["config"]
    attached_params = {key.strip("'").removeprefix("${").removesuffix("}") for key in site["identity"]["userAssignedIdentities"]}
    function_app = module_params("functionApp")
    attached_modules = {reference(function_app[param]).split(".")[0] for param in attached_params}

    rbac_params = module_params("rbac")
    principal_module = {
        param: reference(rbac_params[param]).split(".")[0] for param in ("identityPrincipalId", "deploymentIdentityPrincipalId")
    }
    rbac = parse_bicep(MODULES / "rbac.bicep")
    writers = set()
    for resource in resources_of_type(rbac, "Microsoft.Authorization/roleAssignments").values():
        body, _ = unwrap_condition(resource["config"])
        role = variable(rbac, body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"])
        if body["scope"] in ("deploymentContainer", "deploymentStorage") and role in (
            STORAGE_BLOB_DATA_CONTRIBUTOR,
            STORAGE_BLOB_DATA_OWNER,
        ):
            writers.add(principal_module.get(body["properties"]["principalId"]))

    assert not (writers & attached_modules), (
        f"the app runs with {sorted(attached_modules)} attached; {sorted(writers & attached_modules)} may write the package"
    )


# ---------------------------------------------------------------- pins


def test_every_tool_ci_runs_is_pinned() -> None:
    """checkov gates every CI run (test_checkov_finds_nothing_unsuppressed): a version range in .ci/run would let a new
    release (new checks that fail the build, or a bad release) reach CI unreviewed, and Dependabot cannot see a range
    in a shell script. It is pinned to one version, bumped by hand as docs/ci.md says, like the Bicep CLI."""
    run = (REPO_ROOT / ".ci" / "run").read_text()
    (spec,) = re.findall(r'pip install [^\n]*"(checkov[^"]*)"', run)
    assert re.fullmatch(r"checkov==\d+\.\d+\.\d+", spec), f".ci/run installs {spec!r}"
