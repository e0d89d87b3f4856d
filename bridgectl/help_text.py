"""How every `python -m bridgectl` command's --help reads: a wrapped description, then examples to copy."""

from __future__ import annotations

import textwrap

HELP_WIDTH = 78


def described(*paragraphs: str) -> str:
    """Paragraphs wrapped to the terminal width the help is written for."""
    return "\n\n".join(textwrap.fill(paragraph, HELP_WIDTH) for paragraph in paragraphs)


def examples(*commands: str) -> str:
    """The epilog every command ends with: commands a person can run as they are."""
    return "examples:\n" + "\n".join(f"  {command}" for command in commands)
