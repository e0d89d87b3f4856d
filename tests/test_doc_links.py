"""Every pointer a reader follows leads somewhere: links and #anchors in README.md and docs/, and the documents and
sections that code, scripts and templates name in prose ("see docs/infrastructure.md, "Tear down"")."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.bookings import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A document named in prose: a path ending in .md, or the README by name.
NAMED = r"(?P<file>\b(?:[\w.-]+/)*[\w-]+\.md\b|\bREADME\b)"
DOCUMENT = re.compile(NAMED + r"(?P<here> in this folder)?")
# `README.md (Deploy to Azure)`, `README, "Operator runbook"`, `docs/operations.md, "Operator runbook"`.
SECTION = re.compile(NAMED + r'(?:,\s*|\s+)[("](?P<title>[A-Z][^)"\n]*)[)"]')
# `the README operator runbook`: the document named must have a runbook.
RUNBOOK = re.compile(NAMED + r"\W+(?:\w+\W+){0,2}?runbook", re.IGNORECASE)


def _outside_code(text: str) -> list[str]:
    """The lines of a Markdown text with fenced blocks blanked and inline code removed (links there are examples)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        lines.append("" if fenced or line.lstrip().startswith("```") else re.sub(r"`[^`]*`", "", line))
    return lines


def _headings(path: Path) -> list[str]:
    """The headings of a Markdown file as written (inline code marks dropped), outside fenced blocks."""
    headings, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6}\s+(.*?)\s*$", line)):
            headings.append(heading.group(1).replace("`", ""))
    return headings


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _headings(path):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen.get(slug) else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("document", DOCS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    broken = []
    for number, line in enumerate(_outside_code(document.read_text(encoding="utf-8")), 1):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            destination = (document.parent / path).resolve() if path else document
            if not destination.exists():
                broken.append(f"line {number}: {target}: no such file")
            elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                broken.append(f"line {number}: {target}: no heading with that anchor")
    assert broken == []


def _prose_files() -> list[Path]:
    """The tracked files a person reads for directions: code, scripts, templates, docs (not tests or data)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    paths = [REPO_ROOT / name for name in tracked if not name.startswith(("tests/", "samples/", "schemas/", "tools/"))]
    return [
        path for path in paths if path.suffix in {".md", ".py", ".sh", ".bicep", ".bicepparam", ".yml", ""} and path.is_file()
    ]


def _resolved(name: str, mentioned_in: Path, *, here_only: bool = False) -> Path | None:
    name = "README.md" if name == "README" else name
    folders = [mentioned_in.parent] if here_only else [mentioned_in.parent, REPO_ROOT]
    return next((folder / name for folder in folders if (folder / name).is_file()), None)


def _another_projects(line: str, match: re.Match[str]) -> bool:
    """`azure-servicebus README, "Thread safety"` is that package's README, not ours."""
    before = re.search(r"(\S+)\s+$", line[: match.start()])
    return bool(before and re.search(r"\w[-.]\w", before.group(1)) and "/" not in before.group(1))


def _mentions() -> list[tuple[str, str, Path | None, re.Match[str]]]:
    """(where, kind, the document named, the match) for each document or section named in prose."""
    found = []
    for path in _prose_files():
        text = path.read_text(encoding="utf-8")
        for number, raw in enumerate(text.splitlines(), 1):
            line = re.sub(r"https?://\S+", "", raw)
            where = f"{path.relative_to(REPO_ROOT)}:{number}"
            for kind, pattern in (("document", DOCUMENT), ("section", SECTION), ("runbook", RUNBOOK)):
                for match in pattern.finditer(line):
                    if not _another_projects(line, match):
                        here_only = kind == "document" and bool(match.group("here"))
                        found.append((where, kind, _resolved(match.group("file"), path, here_only=here_only), match))
    return found


def test_every_document_named_in_prose_exists() -> None:
    missing = [
        f"{where}: {match.group(0)}" for where, kind, document, match in _mentions() if kind == "document" and not document
    ]
    assert missing == []


def test_every_section_named_in_prose_is_a_heading_of_that_document() -> None:
    wrong = []
    for where, kind, document, match in _mentions():
        headings = [heading.lower() for heading in _headings(document)] if document else []
        if kind == "section" and match.group("title").strip().lower() not in headings:
            wrong.append(f"{where}: {match.group(0)}")
        if kind == "runbook" and not any("runbook" in heading for heading in headings):
            wrong.append(f"{where}: {match.group(0)} (that document has no runbook)")
    assert wrong == []
