"""One source of truth: the setting and queue names in shared/settings.py are the ones infra sets,
docs/operations.md documents and local.settings.json.example lists."""

from __future__ import annotations

import json
import re

from shared.settings import (
    APP_SETTINGS,
    BOOKINGS_QUEUE,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_GRAPH_BASE_URL,
    DEFAULT_RESULTS_QUEUE,
    GRAPH_BASE_URL,
    LOCAL_ONLY_SETTINGS,
    RESULTS_QUEUE,
    TUNING_SETTINGS,
)
from tests.bookings import REPO_ROOT
from tests.infra.bicep import bicep_app_setting_names

OPERATIONS_DOC = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
EXAMPLE = json.loads((REPO_ROOT / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]
# Settings the Functions host or worker reads, not the bridge.
HOST_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "PYTHON_THREADPOOL_THREAD_COUNT"}


def documented_settings_table() -> dict[str, str]:
    """The rows of the "Settings" table in docs/operations.md: name -> default column."""
    section = OPERATIONS_DOC.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return {match[0]: match[1].strip() for match in re.findall(r"^\| `([A-Za-z_]+)` \| ([^|]+)\|", section, re.MULTILINE)}


def test_the_docs_document_exactly_the_settings_the_code_reads() -> None:
    assert set(documented_settings_table()) == set(APP_SETTINGS)


def test_documented_defaults_are_the_codes() -> None:
    table = documented_settings_table()
    assert table[BOOKINGS_QUEUE] == f"`{DEFAULT_BOOKINGS_QUEUE}`"
    assert table[RESULTS_QUEUE] == f"`{DEFAULT_RESULTS_QUEUE}`"
    assert table[GRAPH_BASE_URL] == f"`{DEFAULT_GRAPH_BASE_URL}`"


def test_local_settings_example_lists_every_setting_and_only_known_ones() -> None:
    assert set(APP_SETTINGS) <= set(EXAMPLE)
    assert set(EXAMPLE) - set(APP_SETTINGS) <= HOST_SETTINGS
    assert EXAMPLE[BOOKINGS_QUEUE] == DEFAULT_BOOKINGS_QUEUE
    assert EXAMPLE[RESULTS_QUEUE] == DEFAULT_RESULTS_QUEUE
    assert EXAMPLE[GRAPH_BASE_URL] == DEFAULT_GRAPH_BASE_URL


def test_infra_sets_every_setting_the_code_reads_except_tuning_and_local_ones() -> None:
    wired = set(APP_SETTINGS) - set(TUNING_SETTINGS) - set(LOCAL_ONLY_SETTINGS)
    assert wired <= bicep_app_setting_names()
    assert not (set(TUNING_SETTINGS) | set(LOCAL_ONLY_SETTINGS)) & bicep_app_setting_names()


def test_worker_threads_cover_host_concurrency_everywhere() -> None:
    host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
    service_bus = host["extensions"]["serviceBus"]
    concurrency = service_bus["maxConcurrentSessions"] * service_bus["maxConcurrentCallsPerSession"]
    assert int(EXAMPLE["PYTHON_THREADPOOL_THREAD_COUNT"]) >= concurrency
    assert "PYTHON_THREADPOOL_THREAD_COUNT" in bicep_app_setting_names()
