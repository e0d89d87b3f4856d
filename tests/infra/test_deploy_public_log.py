"""deploy.sh --public-log: a log anyone can read (CI on a public repository) carries no personal data.

The alert email, the local tools' object id, the subscription and the organizers are never printed; the what-if
lists resource ids only, since its property values hold the same data and ALLOWED_ORGANIZERS; in GitHub Actions each
value is also registered with ::add-mask::, so that az's own output is masked as well.
"""

from __future__ import annotations

import subprocess

from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)

ALERT_EMAIL = "ops@contoso.com"
DEPLOYER = "44444444-4444-4444-4444-444444444444"  # the signed-in user of the fake az
SUBSCRIPTION = ("Contoso", "11111111-1111-1111-1111-111111111111")
ORGANIZER = "ana@contoso.com"
PERSONAL = (ALERT_EMAIL, DEPLOYER, *SUBSCRIPTION, ORGANIZER)


def deployed_with_choices(azure: FakeAzure) -> None:
    choices = ("--alert-email", ALERT_EMAIL, "--local-access")
    first = azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *choices)
    assert first.returncode == 0, first.stderr


def printed(completed: subprocess.CompletedProcess[str]) -> list[str]:
    return (completed.stdout + completed.stderr).splitlines()


def test_a_public_log_in_github_actions_prints_no_personal_value_and_masks_each(fake_azure: FakeAzure) -> None:  # noqa: F811
    deployed_with_choices(fake_azure)

    ci = fake_azure.run("-g", "rg-bridge", "--yes", "--public-log", "--organizer", ORGANIZER, GITHUB_ACTIONS="true")

    assert ci.returncode == 0, ci.stderr
    lines = printed(ci)
    for value in PERSONAL:
        mentions = [line for line in lines if value in line]
        assert mentions == [f"::add-mask::{value}"], f"{value} is printed: {mentions}"
    (what_if,) = [call for call in fake_azure.calls()[-40:] if call.startswith("deployment group what-if")]
    assert what_if.endswith("--result-format ResourceIdOnly"), "property values (ALLOWED_ORGANIZERS, the email) stay out"
    assert "Alert email:         (set, not shown: --public-log) (kept)" in ci.stdout
    assert fake_azure.recorded_parameters()["alertEmail"] == ALERT_EMAIL, "hidden from the log, still deployed"


def test_a_public_log_outside_github_actions_prints_neither_the_values_nor_mask_commands(fake_azure: FakeAzure) -> None:  # noqa: F811
    deployed_with_choices(fake_azure)

    elsewhere = fake_azure.run("-g", "rg-bridge", "--what-if", "--public-log")

    assert elsewhere.returncode == 0, elsewhere.stderr
    lines = printed(elsewhere)
    assert not [line for line in lines if line.startswith("::")]
    assert not [line for line in lines for value in PERSONAL if value in line]


def test_the_operator_at_a_terminal_sees_the_values(fake_azure: FakeAzure) -> None:  # noqa: F811
    deployed_with_choices(fake_azure)

    terminal = fake_azure.run("-g", "rg-bridge", "--what-if", GITHUB_ACTIONS="true")

    assert terminal.returncode == 0, terminal.stderr
    assert f"Alert email:         {ALERT_EMAIL} (kept)" in terminal.stdout
    assert f"Local access for:    {DEPLOYER} (kept)" in terminal.stdout
    assert "::add-mask::" not in terminal.stdout, "masks only with --public-log"
