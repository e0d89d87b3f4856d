"""Reads `python -X importtime` output and says which package each millisecond of importing belongs to.

Each module's own ("self") time goes to its package when that is one of ours or a named
dependency; standard-library modules go to "python stdlib" whoever imported them (a stdlib module
is paid for once, by its first importer, which differs between the two sides); any other module
goes to the nearest named package in its import chain, so what pydantic drags in
(annotated_types, typing_extensions) counts as pydantic's, or else to its own top-level name.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field

OURS = ("function_app", "create_meeting_fn", "shared")
DEPENDENCIES = (
    "azure.functions",
    "azure.identity",
    "azure.servicebus",
    "azure.core",  # shared by azure.identity and azure.servicebus: named, or the first importer would carry it
    "requests",
    "pydantic",
    "msal",
    "cryptography",
    "urllib3",
)
STDLIB = "python stdlib"
_PREFIX = "import time:"


@dataclass
class _Import:
    name: str
    self_us: int
    phase: str
    children: list[_Import] = field(default_factory=list)


def group_of(module: str) -> str | None:
    """The named package a module belongs to, or None."""
    for name in OURS + DEPENDENCIES:
        if module == name or module.startswith(name + "."):
            return name
    return None


def parse(stderr: str, mark: str | None = None) -> list[_Import]:
    """The import tree (roots in order); lines after `mark` belong to phase "first message"."""
    phase = "start-up"
    pending: dict[int, list[_Import]] = defaultdict(list)
    for line in stderr.splitlines():
        if mark is not None and line.strip() == mark:
            phase = "first message"
            continue
        if not line.startswith(_PREFIX) or "self [us]" in line:
            continue
        self_us, _cumulative, name_column = line[len(_PREFIX) :].split("|", 2)
        name = name_column[1:].rstrip()
        depth = (len(name) - len(name.lstrip(" "))) // 2
        # importtime prints a module when it finishes, so its children were printed just before it.
        node = _Import(name.strip(), int(self_us), phase, pending.pop(depth + 1, []))
        pending[depth].append(node)
    return pending[0]


def breakdown(stderr: str, mark: str | None = None) -> dict[str, dict[str, float]]:
    """Milliseconds per group and phase: {group: {"start-up": ms, "first message": ms}}."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def walk(node: _Import, inherited: str | None) -> None:
        group = group_of(node.name) or inherited or node.name.split(".", 1)[0]
        own_group = STDLIB if _is_stdlib(node.name) else group
        totals[own_group][node.phase] += node.self_us / 1000
        for child in node.children:
            walk(child, group)

    for root in parse(stderr, mark):
        walk(root, None)
    return {group: dict(phases) for group, phases in totals.items()}


def _is_stdlib(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top in sys.stdlib_module_names or top in ("_frozen_importlib", "_frozen_importlib_external", "zipimport")
