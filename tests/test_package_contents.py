"""infra/package.sh takes regular files only: an editor's lock file beside a
module (Emacs' `.#booking.py`, a dangling symlink) neither breaks the build nor ships, and a symlinked
folder under shared/ (which find would not enter, leaving its modules out) stops the build.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.test_package_bytecode import build, project_copy

pytestmark = pytest.mark.skipif(
    shutil.which("zip") is None or shutil.which("unzip") is None, reason="package.sh needs zip and unzip"
)


def names(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as archive:
        return archive.namelist()


def test_an_editors_lock_file_beside_a_module_does_not_break_the_package(tmp_path: Path) -> None:
    """Emacs' lock file for shared/booking.py while it has unsaved changes: `.#booking.py -> user@host.1234:...`
    (a dangling symlink): the package builds, with shared/booking.py and without the lock file."""
    project = project_copy(tmp_path)
    os.symlink("reviewer@workstation.4242:1764000000", project / "shared" / ".#booking.py")

    completed = build(tmp_path / "app.zip", script=project / "infra" / "package.sh")

    assert completed.returncode == 0, completed.stderr
    shipped = names(tmp_path / "app.zip")
    assert "shared/booking.py" in shipped
    assert "shared/.#booking.py" not in shipped


def test_a_symlinked_subpackage_of_shared_ships_or_the_build_fails(tmp_path: Path) -> None:
    """shared/vendored -> a directory outside shared/ (the checkout imports shared.vendored fine): its modules
    ship, or package.sh refuses; never a package without them."""
    project = project_copy(tmp_path)
    outside = tmp_path / "vendored"
    outside.mkdir()
    (outside / "__init__.py").write_text("VALUE = 1\n")
    os.symlink(outside, project / "shared" / "vendored")

    completed = build(tmp_path / "app.zip", script=project / "infra" / "package.sh")

    if completed.returncode == 0:
        assert "shared/vendored/__init__.py" in names(tmp_path / "app.zip"), "shared.vendored was left out silently"
