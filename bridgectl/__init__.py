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

# Then the packages every command imports, from requirements.txt: a skipped (or failed) pip install would otherwise
# end in a ModuleNotFoundError traceback from deep inside the first command.
_NEEDED_MODULES = ("pydantic", "requests", "azure.identity", "azure.servicebus")


def _not_installed(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is None
    except ModuleNotFoundError:  # its parent package (azure) is not installed either
        return True


_missing = [module for module in _NEEDED_MODULES if _not_installed(module)]
if _missing:
    sys.stderr.write(
        f"error: python -m bridgectl needs the packages in requirements.txt, and {', '.join(_missing)} "
        f"{'is' if len(_missing) == 1 else 'are'} not installed for {sys.executable}; install them with: "
        f"{sys.executable} -m pip install -r requirements.txt\n"
    )
    raise SystemExit(2)
