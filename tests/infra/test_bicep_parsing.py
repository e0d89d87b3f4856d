"""infra/ parses: every .bicep file, main.bicepparam, every module path and parameter, each with a description."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import (
    INFRA,
    MODULES,
    bicep_files,
    description,
    parse_bicep,
    parse_bicepparam,
    unwrap_condition,
)


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse_bicep(path)
    assert tree.get("resources") or tree.get("modules"), f"{path.name} parsed to nothing"


def test_expected_modules_exist() -> None:
    names = {path.name for path in MODULES.glob("*.bicep")}
    assert names == {
        "identity.bicep",
        "storage.bicep",
        "deployment-storage.bicep",
        "network.bicep",
        "private-endpoint.bicep",
        "servicebus.bicep",
        "monitoring.bicep",
        "functionapp.bicep",
        "rbac.bicep",
        "graph-app-role.bicep",
        "alerts.bicep",
    }


def test_main_bicepparam_parses_and_sets_only_declared_parameters() -> None:
    values = parse_bicepparam(INFRA / "main.bicepparam")
    declared = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert set(values) <= set(declared), f"main.bicepparam sets undeclared parameters: {set(values) - set(declared)}"
    required = {name for name, param in declared.items() if param["default"] is None}
    assert required <= set(values), f"main.bicepparam leaves required parameters unset: {required - set(values)}"


def test_every_module_path_exists_and_every_module_param_is_declared() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    for symbol, module in main["modules"].items():
        target = INFRA / module["detail"]["path"]
        assert target.is_file(), f"module {symbol} points at missing {target}"
        body, _ = unwrap_condition(module["config"])
        declared = parse_bicep(target)["parameters"]
        passed = set(body.get("params", {}))
        assert passed <= set(declared), f"module {symbol} passes unknown params {passed - set(declared)}"
        missing = {name for name, param in declared.items() if param["default"] is None} - passed
        assert not missing, f"module {symbol} leaves {missing} unset"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_every_parameter_has_a_description(path: Path) -> None:
    undocumented = [name for name, param in parse_bicep(path).get("parameters", {}).items() if not description(param)]
    assert not undocumented, f"{path.name}: parameters without @description: {undocumented}"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_every_name_is_declared_once(path: Path) -> None:
    """Bicep gives extensions, parameters, variables, resources and modules one namespace: a name declared twice, a
    parameter and a variable say, is error BCP028 and the file does not build (pycep reads each kind on its own, so
    it would not notice)."""
    tree = parse_bicep(path)
    kinds: dict[str, list[str]] = {}
    for kind in ("extensions", "parameters", "variables", "resources", "modules"):
        for name in tree.get(kind) or {}:
            kinds.setdefault(name, []).append(kind)
    twice = {name: found for name, found in kinds.items() if len(found) > 1}
    assert not twice, f"{path.name} declares these names more than once: {twice}"
