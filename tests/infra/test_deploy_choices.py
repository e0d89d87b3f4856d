"""deploy.sh keeps the operator's choices from one run to the next, and shows the what-if before it changes anything.

The choices live in the deployment itself: ARM records each deployment's parameters, and deploy.sh reads the last
one back (the fake az records them as ARM does, from main.bicepparam and the environment deploy.sh exports).
"""

from __future__ import annotations

import json

from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)

FIRST_RUN_CHOICES = (
    "--alert-email",
    "ops@contoso.com",
    "--calendar-events",
    "--calendar-access",
    "exchange",
    "--private-networking",
    "--always-ready",
    "--local-access",
)


def test_a_second_run_without_the_flags_of_the_first_keeps_every_choice(fake_azure: FakeAzure) -> None:  # noqa: F811
    first = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *FIRST_RUN_CHOICES)
    assert first.returncode == 0, first.stderr
    chosen = fake_azure.recorded_parameters()

    second = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert second.returncode == 0, second.stderr
    kept = fake_azure.recorded_parameters()
    for name in ("alertEmail", "calendarEvents", "calendarAccess", "privateNetworking", "alwaysReady", "deployerPrincipalId"):
        assert kept[name] == chosen[name], name
    assert (kept["alertEmail"], kept["calendarEvents"], kept["calendarAccess"], kept["privateNetworking"]) == (
        "ops@contoso.com",
        True,
        "exchange",
        True,
    )
    assert kept["alwaysReady"] is True
    assert kept["deployerPrincipalId"] == "44444444-4444-4444-4444-444444444444"
    out = second.stdout
    assert "Alert email:         ops@contoso.com (kept)" in out
    assert "Calendar mode:       on, Calendars.ReadWrite from exchange (kept, kept)" in out
    assert "Private networking:  on (kept)" in out
    assert "Always ready:        one instance, billed every second (kept)" in out
    assert "NOBODY" not in second.stderr


def test_a_choice_given_again_replaces_the_kept_one(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *FIRST_RUN_CHOICES).returncode == 0

    changed = fake_azure.run(
        "-g", "rg-bridge", "--skip-code", "--yes", "--no-calendar-events", "--no-alert-email", "--no-always-ready"
    )

    assert changed.returncode == 0, changed.stderr
    parameters = fake_azure.recorded_parameters()
    assert (parameters["calendarEvents"], parameters["alertEmail"], parameters["alwaysReady"]) == (False, "", False)
    assert "Always ready:        off, scales to zero (given)" in changed.stdout
    assert (parameters["calendarAccess"], parameters["privateNetworking"]) == ("exchange", True), "the others stay"
    assert "Calendar mode:       off (given)" in changed.stdout
    assert "NOBODY" in changed.stderr


def test_an_existing_deployment_is_shown_by_its_what_if_and_changed_only_when_confirmed(fake_azure: FakeAzure) -> None:  # noqa: F811
    fake_azure.with_resource_group()

    declined = fake_azure.run("-g", "rg-bridge", "--skip-code", stdin="n\n")
    unanswered = fake_azure.run("-g", "rg-bridge", "--skip-code")

    assert declined.returncode == 0 and "Nothing was changed." in declined.stdout
    assert unanswered.returncode != 0 and "--yes" in unanswered.stderr
    assert not [call for call in fake_azure.calls() if call.startswith("deployment group create")]
    assert len([call for call in fake_azure.calls() if call.startswith("deployment group what-if")]) == 2

    confirmed = fake_azure.run("-g", "rg-bridge", "--skip-code", stdin="y\n")

    assert confirmed.returncode == 0, confirmed.stderr
    calls = [call.split(" --")[0] for call in fake_azure.calls()]
    last_what_if = len(calls) - 1 - calls[::-1].index("deployment group what-if")
    assert calls.index("deployment group create") > last_what_if, "the what-if comes first"
    assert "Deploy these changes to rg-bridge? [y/N]" in confirmed.stdout


def test_a_new_resource_group_is_created_only_after_the_confirmation(fake_azure: FakeAzure) -> None:  # noqa: F811
    declined = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", stdin="no\n")
    assert declined.returncode == 0 and "Nothing was changed." in declined.stdout
    assert not [call for call in fake_azure.calls() if call.startswith(("group create", "deployment group create"))]

    confirmed = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", stdin="y\n")

    assert confirmed.returncode == 0, confirmed.stderr
    assert "Create resource group rg-bridge in swedencentral and deploy Booking Bridge into it? [y/N]" in confirmed.stdout
    assert "group create --name rg-bridge --location swedencentral --output none" in fake_azure.calls()


def test_the_what_if_in_ci_deploys_the_kept_choices_too(fake_azure: FakeAzure) -> None:  # noqa: F811
    """CI's what-if runs without the operator's flags: it previews the kept choices, not a reset to defaults."""
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *FIRST_RUN_CHOICES).returncode == 0

    what_if = fake_azure.run("-g", "rg-bridge", "--what-if", "--validation-level", "ProviderNoRbac")

    assert what_if.returncode == 0, what_if.stderr
    env = fake_azure.deployed_env("what-if")
    assert env["BOOKING_BRIDGE_CALENDAR_EVENTS"] == "true"
    assert env["BOOKING_BRIDGE_CALENDAR_ACCESS"] == "exchange"
    assert env["BOOKING_BRIDGE_ALERT_EMAIL"] == "ops@contoso.com"
    assert env["BOOKING_BRIDGE_PRIVATE_NETWORKING"] == "true"
    assert env["BOOKING_BRIDGE_ALWAYS_READY"] == "true"


def test_kept_choices_are_checked_before_they_are_used(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes").returncode == 0
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    record["parameters"]["alertEmail"] = "ops team; rm -rf /"
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert "alertEmail is not an email address" in completed.stderr
    assert "rm -rf" not in completed.stderr + completed.stdout
    assert len([call for call in fake_azure.calls() if call.startswith("deployment group create")]) == 1


def test_a_deployment_made_before_a_choice_existed_takes_its_default(fake_azure: FakeAzure) -> None:  # noqa: F811
    calendar = ("--calendar-events", "--calendar-access", "exchange")
    first = fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", *calendar)
    assert first.returncode == 0, first.stderr
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    del record["parameters"]["privateNetworking"]
    del record["parameters"]["alwaysReady"]
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode == 0, completed.stderr
    kept = fake_azure.recorded_parameters()
    assert (kept["calendarEvents"], kept["calendarAccess"], kept["privateNetworking"]) == (True, "exchange", False)
    assert kept["alwaysReady"] is False
    assert "Always ready:        off, scales to zero (default)" in completed.stdout


def test_calendar_mode_recorded_without_its_access_is_deployed_once_the_access_is_named(fake_azure: FakeAzure) -> None:  # noqa: F811
    """Where Calendars.ReadWrite comes from is never guessed for a calendar mode that predates the choice."""
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", "--calendar-events").returncode == 0
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    del record["parameters"]["calendarAccess"]
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    stopped = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    named = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--calendar-access", "exchange")

    assert stopped.returncode != 0 and "--calendar-access exchange" in stopped.stderr
    assert named.returncode == 0, named.stderr
    assert len([call for call in fake_azure.calls() if call.startswith("deployment group create")]) == 2
    kept = fake_azure.recorded_parameters()
    assert (kept["calendarEvents"], kept["calendarAccess"]) == (True, "exchange")


def test_withdrawn_local_access_names_the_grants_it_leaves_behind(fake_azure: FakeAzure) -> None:  # noqa: F811
    """Deployments are incremental: the grants stay until deleted, so deploy.sh prints the command that deletes them."""
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", "--local-access").returncode == 0

    withdrawn = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--no-local-access")

    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "Local access for:    nobody (given)" in withdrawn.stdout
    assert (
        "az role assignment delete --ids $(az role assignment list --all --assignee '44444444-4444-4444-4444-444444444444'"
        in (withdrawn.stderr)
    )
    again = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    assert "Local access for:    nobody (kept)" in again.stdout
    assert "role assignment delete" not in again.stderr, "said once, when withdrawn"
