"""The benchmark's cold start imports the package's own bytecode, as the runtime does: its children never inherit
PYTHONPYCACHEPREFIX or PYTHONOPTIMIZE from the shell that runs it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import startup


def test_cold_start_children_read_the_packages_own_bytecode_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No child gets PYTHONPYCACHEPREFIX or PYTHONOPTIMIZE from the caller (`python -v` in the unzipped
    package shows "code object from shared/booking.py", not from its __pycache__, under PYTHONPYCACHEPREFIX)."""
    environments: list[dict[str, str]] = []

    def fake_run(arguments: list[str], *, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        environments.append(env)
        moments = {"started": 1.0, "imported": 1.1, "published": 1.2}
        return subprocess.CompletedProcess(arguments, 0, stdout=json.dumps(moments) + "\n", stderr="")

    monkeypatch.setattr(startup.subprocess, "run", fake_run)
    caller = {"PATH": "/usr/bin", "PYTHONPYCACHEPREFIX": str(tmp_path / "prefix"), "PYTHONOPTIMIZE": "1"}

    startup._cold_start(caller, tmp_path, runs=1)

    inherited = sorted({name for env in environments for name in ("PYTHONPYCACHEPREFIX", "PYTHONOPTIMIZE") if name in env})
    assert inherited == [], f"cold-start children run with {inherited}: the package's bytecode is not what they import"
