"""deploy.sh waits, within a bound, for what Azure applies a little later: new role assignments reaching storage
(publishing meets a 403 until then) and a new identity reaching Microsoft Graph (the template's app role assignment
fails until then). Anything else fails at once."""

from __future__ import annotations

from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)


def publishes(azure: FakeAzure) -> list[str]:
    return [call for call in azure.calls() if call.startswith("functionapp deployment source config-zip")]


def creates(azure: FakeAzure) -> list[str]:
    return [call for call in azure.calls() if call.startswith("deployment group create")]


def test_publishing_is_retried_while_the_new_role_assignments_propagate(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("publish-forbidden", times=2)

    completed = fake_azure.run("-g", "rg-bridge", "--yes")

    assert completed.returncode == 0, completed.stderr
    assert len(publishes(fake_azure)) == 3
    assert fake_azure.sleeps() == ["30", "30"]
    assert "Publishing failed (attempt 1 of 5)" in completed.stdout
    assert "New-CsApplicationAccessPolicy" in completed.stdout, "the run goes on once published"


def test_publishing_gives_up_after_its_bound_and_says_the_rest_is_deployed(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("publish-forbidden", times=99)

    completed = fake_azure.run("-g", "rg-bridge", "--yes")

    assert completed.returncode != 0
    assert len(publishes(fake_azure)) == 5
    assert len(fake_azure.sleeps()) == 4
    assert "publishing failed 5 times" in completed.stderr and "run deploy.sh again" in completed.stderr


def test_the_templates_graph_role_is_retried_until_the_identity_reaches_graph(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("graph-not-replicated", times=2)

    completed = fake_azure.run("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    assert len(creates(fake_azure)) == 3
    assert fake_azure.sleeps() == ["20", "20"]
    assert "Only the Microsoft Graph app role failed" in completed.stdout
    assert "Granted by the Bicep deployment." in completed.stdout


def test_the_templates_graph_role_is_retried_within_a_bound(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("graph-not-replicated", times=99)

    completed = fake_azure.run("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert len(creates(fake_azure)) == 6
    assert "the deployment failed" in completed.stderr


def test_a_deployment_that_fails_anywhere_else_is_not_retried(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("deployment-fails")

    completed = fake_azure.run("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert len(creates(fake_azure)) == 1
    assert fake_azure.sleeps() == []
    assert "az deployment operation group list" in completed.stderr
