"""function_app's imports run with the collector paused and are frozen after (docs/performance.md, cold start).

Each test imports the app in a fresh interpreter:

- the collector is left as it was found (a host that runs with it off keeps it off);
- the cycles the imports drop are frozen with everything else, once: a bounded price (a few hundred
  objects), chosen over a full collection at start-up, which costs more time than they weigh.
"""

from __future__ import annotations

import subprocess
import sys

from tests.bookings import REPO_ROOT


def run(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def test_importing_the_app_leaves_the_collector_as_it_found_it() -> None:
    assert run("import gc; gc.disable(); import function_app; print(gc.isenabled())") == "False"
    assert run("import gc, function_app; print(gc.isenabled())") == "True"


def test_the_garbage_frozen_with_the_imports_is_bounded() -> None:
    frozen_garbage = int(run("import gc, function_app; gc.unfreeze(); print(gc.collect())"))
    assert 0 <= frozen_garbage < 5_000, f"{frozen_garbage} unreachable objects were frozen for the process's lifetime"
