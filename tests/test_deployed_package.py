"""The deployed package holds the function and nothing else: no test, bench, simulator, tooling or docs file.

The package is built by infra/package.sh, the script deploy.sh publishes with, from this working
tree (it names each file it takes), then listed. Beside the sources it holds their
bytecode, compiled from those very sources for the runtime's Python version: the app runs from the
package read-only, and would otherwise compile every module on every cold start.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT

PACKAGE_SCRIPT = REPO_ROOT / "infra" / "package.sh"
RUNTIME_PYTHON = re.search(r"param pythonVersion string = '([\d.]+)'", (REPO_ROOT / "infra" / "main.bicep").read_text())
# PEP 552: a hash-based .pyc whose source is never checked (flags 0b01), read without a stat of its source.
UNCHECKED_HASH = 0b01

DEPLOYED_FILES = {"function_app.py", "host.json", "requirements.txt"}
DEPLOYED_FOLDERS = {"create_meeting_fn", "shared"}
NEVER_DEPLOYED = ("tests", "bench", "simulator", "bridgectl", "devtools", "docs", "infra", "local", "samples", "tools")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files in the zip deploy.sh would publish, built with this interpreter, by name."""
    built = tmp_path_factory.mktemp("package") / "app.zip"
    completed = subprocess.run(
        ["bash", str(PACKAGE_SCRIPT), str(built)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert completed.returncode == 0, completed.stderr
    with zipfile.ZipFile(built) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}


@pytest.fixture(scope="module")
def package_listing(package: dict[str, bytes]) -> list[str]:
    return [name for name in package if "__pycache__" not in name]


def test_the_package_holds_only_the_function_its_host_settings_and_its_requirements(package: dict[str, bytes]) -> None:
    outside = [name for name in package if name not in DEPLOYED_FILES and name.split("/")[0] not in DEPLOYED_FOLDERS]
    outside = [name for name in outside if not name.startswith("__pycache__/function_app.")]
    assert not outside, f"deployed but not part of the function: {outside}"


def test_every_deployed_module_has_unchecked_bytecode_of_its_own_source_for_the_runtime(package: dict[str, bytes]) -> None:
    assert RUNTIME_PYTHON, "infra/main.bicep names no pythonVersion"
    if f"{sys.version_info.major}.{sys.version_info.minor}" != RUNTIME_PYTHON.group(1):
        pytest.skip(f"bytecode is built for the runtime's Python {RUNTIME_PYTHON.group(1)}, and this is {sys.version.split()[0]}")
    sources = [name for name in package if name.endswith(".py")]
    cached = {name for name in package if "__pycache__" in name}
    expected = {importlib.util.cache_from_source(name) for name in sources}
    assert cached == expected, f"missing {sorted(expected - cached)}, stray {sorted(cached - expected)}"
    for source in sources:
        header = package[importlib.util.cache_from_source(source)][:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, source
        assert header[8:16] == importlib.util.source_hash(package[source]), f"{source}: bytecode of another source"


def test_the_package_holds_every_module_of_the_function(package_listing: list[str]) -> None:
    modules = {
        str(path.relative_to(REPO_ROOT))
        for folder in DEPLOYED_FOLDERS
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert set(package_listing) >= DEPLOYED_FILES
    assert modules <= set(package_listing), sorted(modules - set(package_listing))


def test_no_test_bench_simulator_tooling_or_cache_file_is_deployed(package: dict[str, bytes]) -> None:
    leaked = [
        name
        for name in package
        if set(Path(name).parts) & set(NEVER_DEPLOYED) or Path(name).name.startswith(("test_", "conftest"))
    ]
    assert not leaked, leaked
