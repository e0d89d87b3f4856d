"""Azurite's Table service for tests and benchmarks: the real emulator, pinned in tools/ (npm), on a free loopback port.

In memory, telemetry off, and stopped when the context exits. Without it installed, starting it
raises AzuriteNotInstalled naming the install command; the tests turn that into a skip locally
and a failure in CI (CI=true, where `.ci/run` installs it), in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

AZURITE_TABLE = Path(__file__).resolve().parent.parent / "tools" / "node_modules" / ".bin" / "azurite-table"
INSTALL_COMMAND = "npm ci --prefix tools --no-audit --no-fund"

# Azurite's well-known development account; public, documented, and accepted by nothing but the emulator
# (https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STARTUP_TIMEOUT_SECONDS = 60.0
# A free port can be taken by someone else between our probe and Azurite's bind: try a few.
PORT_ATTEMPTS = 3


def emulator_connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT_NAME};"
    )


class AzuriteNotInstalled(RuntimeError):
    """tools/ has no Azurite: the message says how to install it."""


def require_azurite() -> Path:
    """The azurite-table binary, or AzuriteNotInstalled."""
    if AZURITE_TABLE.exists():
        return AZURITE_TABLE
    raise AzuriteNotInstalled(f"Azurite not installed: run {INSTALL_COMMAND}")


@contextlib.contextmanager
def azurite_table_service() -> Iterator[str]:
    """Run Azurite's Table service until the context exits; yield its connection string."""
    binary = require_azurite()
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        log_path = Path(workdir) / "azurite.log"
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [
                        str(binary),
                        "--inMemoryPersistence",
                        "--tableHost",
                        "127.0.0.1",
                        "--tablePort",
                        str(port),
                        "--skipApiVersionCheck",
                        "--disableTelemetry",
                        "--silent",
                    ],
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                if _wait_until_listening(process, port, log_path):
                    yield emulator_connection_string(port)
                    return
            finally:
                _stop(process)
        raise RuntimeError(
            f"Azurite's Table service exited at start, {PORT_ATTEMPTS} times; its output:\n"
            + log_path.read_text(errors="replace")
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> bool:
    """True once the port answers, False if Azurite exited (most likely: the port was taken)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Azurite's Table service did not listen within {STARTUP_TIMEOUT_SECONDS:.0f} s; its output:\n"
                    + log_path.read_text(errors="replace")
                ) from None
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
