"""The command line as a person runs it: `python -m bridgectl` in its own process, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.bookings import REPO_ROOT


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without Azure or identity variables and PYTHONPATH, plus `extra`."""
    inherited = {
        key: value for key, value in os.environ.items() if not key.startswith(("IDENTITY_", "MSI_", "AZURE_", "PYTHONPATH"))
    }
    return {**inherited, **extra}


def run_module(module: str, *args: str, python: str = sys.executable, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` as a person runs it, from the repository root, in clean_environment()."""
    return subprocess.run(
        [python, "-m", module, *args], cwd=REPO_ROOT, env=clean_environment(), capture_output=True, text=True, timeout=timeout
    )


def run_cli(*args: str, stdin: str | None = None, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one command with none of the caller's Azure or identity variables, plus `environment`."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("IDENTITY_", "MSI_", "AZURE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bridgectl", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={**inherited, **(environment or {})},
        timeout=120,
    )
