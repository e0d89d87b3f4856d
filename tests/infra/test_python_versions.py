"""The Pythons the deployment allows are the ones CI runs the whole suite on, and the floor the project states."""

from __future__ import annotations

import re
import tomllib

from tests.infra.bicep import INFRA, REPO_ROOT


def allowed_by_infra() -> list[str]:
    text = (INFRA / "main.bicep").read_text()
    allowed = re.search(r"@allowed\(\[([^\]]*)\]\)\s*(?:@\w+\([^)]*\)\s*)*param pythonVersion ", text)
    assert allowed, "main.bicep has no @allowed list for pythonVersion"
    return re.findall(r"'([0-9.]+)'", allowed.group(1))


def test_ci_runs_the_suite_on_every_python_infra_allows() -> None:
    ci = re.search(r'^supported_pythons="([^"]*)"', (REPO_ROOT / ".ci" / "run").read_text(), re.M)
    assert ci, ".ci/run names no supported_pythons"
    assert ci.group(1).split() == allowed_by_infra()


def test_the_stated_floor_is_the_oldest_python_infra_allows() -> None:
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={min(allowed_by_infra(), key=lambda version: tuple(map(int, version.split('.'))))}"
    assert "Python 3.11 or 3.12" in (REPO_ROOT / "README.md").read_text()
