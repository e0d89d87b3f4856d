"""On a Python older than 3.11, what a newcomer runs first says so in one line, before anything else is imported.

The older interpreter has none of the bridge's packages: the check must come before any of them is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bridgectl.schemas import SCHEMA_DIR
from tests.bookings import REPO_ROOT


def _older_python() -> str | None:
    """A Python 3.10 or 3.9 that really runs (a pyenv shim may be on PATH for a version it does not have)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        *sorted(str(path) for path in pyenv.glob("versions/3.10.*/bin/python3.10")),
        *filter(None, (shutil.which(name) for name in ("python3.10", "python3.9"))),
    ]
    for candidate in candidates:
        answer = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info < (3, 11))"], capture_output=True, text=True, timeout=30
        )
        if answer.returncode == 0 and answer.stdout.strip() == "True":
            return candidate
    return None


OLDER_PYTHON = _older_python()
needs_an_older_python = pytest.mark.skipif(OLDER_PYTHON is None, reason="no Python 3.10 or 3.9 on this machine")


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}


@needs_an_older_python
@pytest.mark.parametrize(
    ("arguments", "program"),
    [
        (["-m", "bridgectl", "simulate", "samples/"], "python -m bridgectl"),
        (["-m", "bridgectl", "--help"], "python -m bridgectl"),
        (["-m", "bridgectl.schemas"], "python -m bridgectl"),
        (["-m", "simulator", "--port", "0"], "python -m simulator"),
    ],
)
def test_an_older_python_is_named_in_one_line_and_nothing_runs(arguments: list[str], program: str) -> None:
    assert OLDER_PYTHON is not None
    schemas_before = {path.name: path.stat().st_mtime_ns for path in SCHEMA_DIR.iterdir()}

    completed = subprocess.run(
        [OLDER_PYTHON, *arguments], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert re.fullmatch(
        rf"error: {program} needs Python 3\.11 or 3\.12, not 3\.(10|9)\.\d+ \(.+\); recreate the environment with one of "
        r"them: python3\.12 -m venv --clear \.venv && \.venv/bin/pip install -r requirements\.txt",
        line,
    ), line
    assert {path.name: path.stat().st_mtime_ns for path in SCHEMA_DIR.iterdir()} == schemas_before


@needs_an_older_python
def test_the_test_command_refuses_an_older_python_before_it_installs_anything(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO_ROOT / ".ci" / "run", tmp_path / ".ci" / "run")

    completed = subprocess.run(
        ["bash", ".ci/run"],
        cwd=tmp_path,
        env={**_environment(), "PYTHON": str(OLDER_PYTHON)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 2
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: .ci/run needs Python 3.11 or 3.12;") and line.endswith("run it with PYTHON=python3.12")
    assert sorted(path.name for path in tmp_path.iterdir()) == [".ci"]


def test_every_place_names_the_same_supported_pythons() -> None:
    checks = {
        path: re.findall(r"sys\.version_info < \((\d+), (\d+)\)", (REPO_ROOT / path).read_text(encoding="utf-8"))
        for path in ("bridgectl/__init__.py", "simulator/__init__.py", ".ci/run")
    }
    assert all(found == [("3", "11")] for found in checks.values()), checks
    assert 'requires-python = ">=3.11"' in (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "**Python 3.11 or 3.12**" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
