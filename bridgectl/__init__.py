"""bridgectl: the bridge's command line for developers and operators. Never deployed.

It imports `shared` (the deployed bridge) and the simulator; `shared` never imports it.

    python -m bridgectl simulate samples/          # the real pipeline, no Azure account needed
    python -m bridgectl external-id crm-eu BK-10023
    python -m bridgectl send | results | dlq ...   # the real queues, or the local emulator
    python -m bridgectl.schemas                    # regenerate schemas/ after changing a model
"""

import sys

# Before anything else is imported: on an older Python the first import of the bridge fails with an
# ImportError traceback (datetime.UTC, enum.StrEnum) that never says the version is the problem.
if sys.version_info < (3, 11):  # noqa: UP036 - the point is to run on the versions ruff assumes away
    sys.stderr.write(
        f"error: python -m bridgectl needs Python 3.11 or 3.12, not {sys.version.split()[0]} ({sys.executable}); "
        "recreate the environment with one of them: python3.12 -m venv --clear .venv && .venv/bin/pip install -r "
        "requirements.txt\n"
    )
    raise SystemExit(2)
