"""checkov on the templates, shellcheck and bash -n on the scripts.

When a tool is missing the test skips, except under CI=true where it fails, so CI can never pass by not looking.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from tests.infra.bicep import (
    CHECKOV_UNPARSEABLE,
    DEPLOY_SCRIPT,
    INFRA,
    PACKAGE_SCRIPT,
    REPO_ROOT,
    external_tool,
)


def test_checkov_finds_nothing_unsuppressed() -> None:
    checkov = external_tool("checkov", "CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    completed = subprocess.run(
        [checkov, "--directory", str(INFRA), "--framework", "bicep", "--output", "json", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    summary = report["summary"]
    results = report["results"]
    failed = [f"{check['check_id']} {check['resource']} ({check['file_path']})" for check in results["failed_checks"]]
    assert not failed, "checkov failures (fix them, or suppress inline with a reason):\n" + "\n".join(failed)
    unparsed = {Path(path) for path in results.get("parsing_errors", [])}
    assert unparsed <= CHECKOV_UNPARSEABLE, f"checkov could not parse {sorted(map(str, unparsed - CHECKOV_UNPARSEABLE))}"
    assert summary["passed"] > 0 and summary["resource_count"] > 0, summary
    for check in results["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 20, f"{check['check_id']} on {check['resource']} is suppressed without a reason"


def test_deploy_sh_passes_shellcheck() -> None:
    shellcheck = external_tool("shellcheck", "SHELLCHECK")
    completed = subprocess.run([shellcheck, str(DEPLOY_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_package_sh_passes_shellcheck_and_is_valid_bash() -> None:
    shellcheck = external_tool("shellcheck", "SHELLCHECK")
    completed = subprocess.run([shellcheck, str(PACKAGE_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    completed = subprocess.run(["bash", "-n", str(PACKAGE_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert PACKAGE_SCRIPT.stat().st_mode & stat.S_IXUSR, "package.sh must be executable"


def test_deploy_sh_is_valid_bash() -> None:
    completed = subprocess.run(["bash", "-n", str(DEPLOY_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert DEPLOY_SCRIPT.stat().st_mode & stat.S_IXUSR, "deploy.sh must be executable"
    assert "set -euo pipefail" in DEPLOY_SCRIPT.read_text()
