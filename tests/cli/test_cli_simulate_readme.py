"""README's sample output of `simulate` is what `simulate samples/` prints: the same lines, in the same
columns, with only what the README shortens to `…` (join URLs, Graph's message) left to vary."""

from __future__ import annotations

import re

from tests.bookings import REPO_ROOT
from tests.cli.command import run_cli

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def readme_sample_output() -> list[str]:
    """The ```text block that follows "What `simulate` prints"."""
    after = README.split("What `simulate` prints", 1)[1]
    return after.split("```text\n", 1)[1].split("\n```", 1)[0].splitlines()


def as_pattern(line: str) -> re.Pattern[str]:
    """The README line with each `…` standing for any text the run prints there."""
    return re.compile(".+?".join(re.escape(part) for part in line.split("…")))


def test_the_readme_shows_what_simulate_prints() -> None:
    completed = run_cli("simulate", "samples/")
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout.splitlines() + completed.stderr.splitlines()

    documented = readme_sample_output()

    assert len(documented) == len(printed)
    for documented_line, printed_line in zip(documented, printed, strict=True):
        assert as_pattern(documented_line).fullmatch(printed_line), f"README:  {documented_line}\nprinted: {printed_line}"


def test_the_readme_shortens_only_what_varies() -> None:
    """Status, record, externalId and the input file are shown in full on every line."""
    for line in readme_sample_output()[:-1]:
        status, record, external_id = line.split()[:3]
        assert "…" not in status + record + external_id
        assert re.fullmatch(r"externalId=[0-9a-f-]{36}", external_id)
        assert re.search(r"  \(samples/[0-9a-z-]+\.json\)$", line)
