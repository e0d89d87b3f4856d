"""The code package: the deployment identity may read it, and write it only while deploy.sh publishes.

Flex Consumption writes the package with the identity its deployment storage names and attaches that identity to the
app, where code could ask the platform for its token: a standing write grant would let the app replace its own code.
So the template grants read (tests/infra/test_bicep_roles.py), and deploy.sh, run against the fake az, grants write
before the publish and takes it back after, whatever the publish did, and also removes a standing grant that a
deployment made before left behind.
"""

from __future__ import annotations

from tests.infra.fake_azure import PACKAGE_CONTAINER, FakeAzure, fake_azure  # noqa: F401  (the fixture)


def first_call(azure: FakeAzure, prefix: str) -> int:
    return next(index for index, call in enumerate(azure.calls()) if call.startswith(prefix))


def test_the_deployment_identity_may_write_the_package_only_while_deploy_sh_publishes(fake_azure: FakeAzure) -> None:  # noqa: F811
    completed = fake_azure.with_resource_group().run("-g", "rg-bridge", "--yes")

    assert completed.returncode == 0, completed.stderr
    granted = first_call(fake_azure, "role assignment create")
    published = first_call(fake_azure, "functionapp deployment source config-zip")
    taken_back = first_call(fake_azure, "role assignment delete")
    assert granted < published < taken_back
    create = fake_azure.calls()[granted]
    assert "--assignee-object-id 66666666-6666-6666-6666-666666666666" in create
    assert "--assignee-principal-type ServicePrincipal" in create, "no Microsoft Graph lookup: CI's identity has no Entra rights"
    assert f"--scope {PACKAGE_CONTAINER} " in create
    assert fake_azure.role_assignments() == [], "no write grant is left"


def test_the_write_grant_is_taken_back_when_publishing_fails(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().failing("publish-forbidden", times=99)

    completed = fake_azure.run("-g", "rg-bridge", "--yes")

    assert completed.returncode != 0
    assert "the code is not published" in completed.stderr
    assert fake_azure.role_assignments() == []


def test_a_standing_write_grant_left_by_an_earlier_deployment_is_removed_without_publishing(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().grant_package_write()

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    assert not [call for call in fake_azure.calls() if call.startswith("role assignment create")]
    assert fake_azure.role_assignments() == []
    assert "it may read the package, not write it" in completed.stdout


def test_a_what_if_touches_no_role_assignment(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group().grant_package_write()

    completed = fake_azure.run("-g", "rg-bridge", "--what-if")

    assert completed.returncode == 0, completed.stderr
    assert not [call for call in fake_azure.calls() if call.startswith("role assignment")]
