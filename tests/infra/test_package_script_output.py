"""infra/package.sh takes a file to write, in a folder that exists; any other output is refused before building."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT
from tests.cli.command import clean_environment


@pytest.mark.parametrize(
    "output", ["{tmp}/", "{tmp}", "", "{tmp}/missing/bridge.zip"], ids=["folder/", "folder", "empty", "no folder"]
)
def test_package_script_refuses_an_output_it_cannot_write_before_building(tmp_path: Path, output: str) -> None:
    """infra/package.sh takes a file to write, in a folder that exists: anything else is a usage error (exit status 2)
    before anything is built, never rm's or cd's own error after the whole package was compiled."""
    completed = subprocess.run(
        ["bash", "infra/package.sh", output.format(tmp=tmp_path)],
        cwd=REPO_ROOT,
        env=clean_environment(PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("package.sh: "), completed.stderr
    assert "rm: " not in completed.stderr and "cd: " not in completed.stderr
    assert "no bytecode" not in completed.stderr  # stopped before building
