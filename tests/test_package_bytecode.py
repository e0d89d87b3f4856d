"""infra/package.sh's bytecode in the environments a deployer's machine has.

deploy.sh always publishes through package.sh and stops when it fails, so each of these was a failed
deployment or a package whose bytecode the runtime never reads:

- PYTHONPYCACHEPREFIX set (a way to keep checkouts free of __pycache__): the bytecode went under the
  prefix and the package step found none to add;
- PYTHON given as a relative path (`PYTHON=.venv/bin/python`): it no longer resolved inside the
  staging directory;
- PYTHONOPTIMIZE set: only .opt-1.pyc, which the runtime (no -O) never reads;
- the runtime's version read from main.bicep's default, where deploy.sh deploys with main.bicepparam,
  which sets pythonVersion itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT

PACKAGE_SCRIPT = REPO_ROOT / "infra" / "package.sh"
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PYC = f".cpython-{sys.version_info.major}{sys.version_info.minor}.pyc"

pytestmark = pytest.mark.skipif(
    shutil.which("zip") is None or shutil.which("unzip") is None, reason="package.sh needs zip and unzip"
)


def runtime_version_is_this_python() -> None:
    if f"param pythonVersion string = '{THIS_PYTHON}'" not in (REPO_ROOT / "infra" / "main.bicep").read_text():
        pytest.skip(f"the runtime's Python is not {THIS_PYTHON}")


def build(
    output: Path, *, cwd: Path | None = None, script: Path = PACKAGE_SCRIPT, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    environment.update({"PYTHON": sys.executable, **env})
    return subprocess.run(
        ["bash", str(script), str(output)], capture_output=True, text=True, check=False, env=environment, cwd=cwd
    )


def project_copy(tmp_path: Path) -> Path:
    """The files package.sh reads, copied: the worktree itself is never touched."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("function_app.py", "host.json", "requirements.txt"):
        shutil.copy(REPO_ROOT / name, project / name)
    for folder in ("create_meeting_fn", "shared"):
        shutil.copytree(REPO_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "infra").mkdir()
    for name in ("package.sh", "main.bicep", "main.bicepparam"):
        shutil.copy(REPO_ROOT / "infra" / name, project / "infra" / name)
    return project


def bytecode(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as archive:
        return [name for name in archive.namelist() if name.endswith(".pyc")]


def test_package_sh_succeeds_with_bytecode_when_pythonpycacheprefix_is_set(tmp_path: Path) -> None:
    runtime_version_is_this_python()
    completed = build(tmp_path / "app.zip", PYTHONPYCACHEPREFIX=str(tmp_path / "pycache-prefix"))
    assert completed.returncode == 0, completed.stderr
    assert "shared/__pycache__/graph_client" + PYC in bytecode(tmp_path / "app.zip")


def test_package_sh_accepts_a_relative_python(tmp_path: Path) -> None:
    runtime_version_is_this_python()
    relative = os.path.relpath(sys.executable, REPO_ROOT)
    completed = build(tmp_path / "app.zip", cwd=REPO_ROOT, PYTHON=relative)
    assert completed.returncode == 0, completed.stderr
    assert "shared/__pycache__/graph_client" + PYC in bytecode(tmp_path / "app.zip")


def test_package_sh_ships_the_bytecode_the_runtime_reads_even_under_pythonoptimize(tmp_path: Path) -> None:
    """The bytecode an interpreter without -O imports: shared/__pycache__/graph_client.cpython-311.pyc."""
    runtime_version_is_this_python()
    completed = build(tmp_path / "app.zip", PYTHONOPTIMIZE="1")
    assert completed.returncode == 0, completed.stderr
    names = bytecode(tmp_path / "app.zip")
    assert "shared/__pycache__/graph_client" + PYC in names, sorted(names)[:5]


def test_package_sh_builds_bytecode_for_the_python_the_deployment_sets(tmp_path: Path) -> None:
    """deploy.sh deploys main.bicep with main.bicepparam, whose pythonVersion is the runtime's: with it at
    another version than this Python, no bytecode of this Python, and a warning naming the deployed version."""
    runtime_version_is_this_python()
    project = project_copy(tmp_path)
    other = "3.12" if THIS_PYTHON != "3.12" else "3.11"
    parameters = (REPO_ROOT / "infra" / "main.bicepparam").read_text()
    assert f"param pythonVersion = '{THIS_PYTHON}'" in parameters
    (project / "infra" / "main.bicepparam").write_text(
        parameters.replace(f"param pythonVersion = '{THIS_PYTHON}'", f"param pythonVersion = '{other}'")
    )

    completed = build(tmp_path / "app.zip", script=project / "infra" / "package.sh")

    assert completed.returncode == 0, completed.stderr
    assert not bytecode(tmp_path / "app.zip"), f"bytecode of Python {THIS_PYTHON} for a Python {other} app"
    assert other in completed.stderr
