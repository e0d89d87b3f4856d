"""The deployed package holds the function and nothing else: no test, bench, simulator, tooling or docs file.

The package is built by infra/package.sh, the script deploy.sh publishes with when Core Tools is
missing, from this working tree and its .funcignore (which Core Tools reads too), then listed.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT

PACKAGE_SCRIPT = REPO_ROOT / "infra" / "package.sh"
DEPLOYED_FILES = {"function_app.py", "host.json", "requirements.txt"}
DEPLOYED_FOLDERS = {"create_meeting_fn", "shared"}
NEVER_DEPLOYED = ("tests", "bench", "simulator", "bridgectl", "devtools", "docs", "infra", "local", "samples", "tools")


@pytest.fixture(scope="module")
def package_listing(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The names in the zip deploy.sh would publish."""
    package = tmp_path_factory.mktemp("package") / "app.zip"
    completed = subprocess.run(["bash", str(PACKAGE_SCRIPT), str(package)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    with zipfile.ZipFile(package) as archive:
        return [name for name in archive.namelist() if not name.endswith("/")]


def test_the_package_holds_only_the_function_its_host_settings_and_its_requirements(package_listing: list[str]) -> None:
    outside = [name for name in package_listing if name not in DEPLOYED_FILES and name.split("/")[0] not in DEPLOYED_FOLDERS]
    assert not outside, f"deployed but not part of the function: {outside}"


def test_the_package_holds_every_module_of_the_function(package_listing: list[str]) -> None:
    modules = {
        str(path.relative_to(REPO_ROOT))
        for folder in DEPLOYED_FOLDERS
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert set(package_listing) >= DEPLOYED_FILES
    assert modules <= set(package_listing), sorted(modules - set(package_listing))


def test_no_test_bench_simulator_tooling_or_cache_file_is_deployed(package_listing: list[str]) -> None:
    leaked = [
        name
        for name in package_listing
        if set(Path(name).parts) & {*NEVER_DEPLOYED, "__pycache__"} or Path(name).name.startswith(("test_", "conftest"))
    ]
    assert not leaked, leaked
