"""Always ready: off unless the operator asks, and then one instance for the bookings function's own scale group.

Flex Consumption scales each non-HTTP function in a group named function:<name>; an always-ready entry naming any
other group keeps an instance started for nothing, so the name is checked against the function the app registers.
"""

from __future__ import annotations

import json

from tests.conftest import indexed_functions
from tests.infra.bicep import INFRA, MODULES, module_params, parse_bicep, parse_bicepparam, properties_of, variable
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)


def test_always_ready_is_off_unless_deploy_sh_turns_it_on() -> None:
    declared = parse_bicep(INFRA / "main.bicep")["parameters"]["alwaysReady"]
    assert (declared["type"], declared["default"]) == ("bool", False)
    assert parse_bicepparam(INFRA / "main.bicepparam")["alwaysReady"] == {
        "function": {
            "type": "bool",
            "parameters": {
                "arg_1": {
                    "function": {
                        "type": "readEnvironmentVariable",
                        "parameters": {"arg_1": "BOOKING_BRIDGE_ALWAYS_READY", "arg_2": "false"},
                    }
                }
            },
        }
    }
    assert module_params("functionApp")["alwaysReady"] == "alwaysReady"


def test_when_on_one_instance_is_kept_for_the_function_the_app_registers_and_none_when_off() -> None:
    tree = parse_bicep(MODULES / "functionapp.bicep")
    scale = properties_of(tree, "site")["functionAppConfig"]["scaleAndConcurrency"]
    choice = scale["alwaysReady"]["operator"]
    assert (choice["type"], choice["operands"]["condition"]) == ("conditional", "alwaysReady")
    assert choice["operands"]["true_value"] == [{"name": "bookingsFunctionScaleGroup", "instanceCount": 1}]
    assert choice["operands"]["false_value"] == []
    assert [variable(tree, "bookingsFunctionScaleGroup")] == [f"function:{name}" for name in indexed_functions()]


def test_a_kept_always_ready_that_is_not_true_or_false_stops_the_run(fake_azure: FakeAzure) -> None:  # noqa: F811
    assert fake_azure.run("-g", "rg-bridge", "-l", "swedencentral", "--skip-code", "--yes", "--always-ready").returncode == 0
    record = json.loads((fake_azure.state / "deployment.json").read_text())
    record["parameters"]["alwaysReady"] = "yes; rm -rf /"
    (fake_azure.state / "deployment.json").write_text(json.dumps(record))

    completed = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")

    assert completed.returncode != 0
    assert "alwaysReady is not true or false" in completed.stderr
    assert "rm -rf" not in completed.stderr + completed.stdout
    assert len([call for call in fake_azure.calls() if call.startswith("deployment group create")]) == 1
