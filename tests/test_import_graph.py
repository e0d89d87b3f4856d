"""What ships imports only what ships: the deployed code never reaches the tooling, the simulator or the tests.

Every module of the deployed package (function_app.py, create_meeting_fn/, shared/) is parsed,
and every import in it, at any depth (a lazy import inside a function counts too), must be the
standard library, a runtime requirement (requirements.txt), or the deployed code itself.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT

DEPLOYED_PACKAGES = ("shared", "create_meeting_fn")
DEPLOYED_MODULES = sorted(
    [REPO_ROOT / "function_app.py", *(path for package in DEPLOYED_PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))]
)
# What each runtime requirement lets the deployed code import. azure.core comes with every Azure
# SDK client listed here (they all require it), so it counts as theirs.
RUNTIME_IMPORTS = {
    "azure-functions": ("azure.functions",),
    "azure-identity": ("azure.identity", "azure.core"),
    "azure-servicebus": ("azure.servicebus", "azure.core"),
    "urllib3": ("urllib3",),
    "requests": ("requests",),
    "pydantic": ("pydantic",),
    "opentelemetry-api": ("opentelemetry",),
    "azure-monitor-opentelemetry": ("azure.monitor.opentelemetry",),
}
NEVER_IMPORTED = ("bridgectl", "simulator", "devtools", "bench", "tests")


def imported_modules(path: Path) -> set[str]:
    """The absolute names of every module one file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside the package of the file it is in.
            names.add(path.relative_to(REPO_ROOT).parts[0] if node.level else node.module or "")
    return names


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def runtime_requirements() -> set[str]:
    lines = (line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines())
    return {re.split(r"[<>=!~;\[ ]", line)[0].lower() for line in lines if line}


def test_every_runtime_requirement_says_what_it_lets_the_code_import() -> None:
    assert runtime_requirements() == set(RUNTIME_IMPORTS)


@pytest.mark.parametrize("path", DEPLOYED_MODULES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_deployed_code_imports_only_the_standard_library_its_requirements_and_itself(path: Path) -> None:
    allowed = (*DEPLOYED_PACKAGES, *(prefix for prefixes in RUNTIME_IMPORTS.values() for prefix in prefixes))
    foreign = sorted(
        name
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not any(within(name, prefix) for prefix in allowed)
    )
    assert not foreign, f"{path.relative_to(REPO_ROOT)} imports what is not deployed: {foreign}"


@pytest.mark.parametrize("path", DEPLOYED_MODULES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_deployed_code_never_imports_the_tooling_the_simulator_or_the_tests(path: Path) -> None:
    reached = sorted(name for name in imported_modules(path) if any(within(name, package) for package in NEVER_IMPORTED))
    assert not reached, f"{path.relative_to(REPO_ROOT)} imports {reached}"


def test_the_check_sees_every_deployed_package() -> None:
    assert {path.relative_to(REPO_ROOT).parts[0] for path in DEPLOYED_MODULES} == {"function_app.py", *DEPLOYED_PACKAGES}
    assert "bridgectl.cli" in imported_modules(REPO_ROOT / "bridgectl" / "__main__.py")
