"""The published JSON Schemas of the two message contracts, generated from the models.

Run `python -m bridgectl.schemas` after changing a model; tests/test_contract.py fails while
the committed files in schemas/ differ from what the models generate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import BaseModel

from bridgectl.help_text import described, examples
from shared.booking import Booking
from shared.result import ResultMessage

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "booking.v1.schema.json": Booking,
    "result.v1.schema.json": ResultMessage,
}


def render_schema(model: type[BaseModel]) -> str:
    """The schema as committed: draft 2020-12, stable key order, trailing newline."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema(by_alias=True)}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the schemas; --help only prints what this does, and any argument is refused before anything is written."""
    argparse.ArgumentParser(
        prog="python -m bridgectl.schemas",
        description=described(
            f"Writes {' and '.join(SCHEMA_FILES)} into {SCHEMA_DIR.name}/ from the models in shared/, overwriting them. "
            "Run it after changing a model; tests/test_contract.py fails while the committed files differ."
        ),
        epilog=examples("python -m bridgectl.schemas", "git diff --stat schemas/   # what the change did to the contract"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    for path in write_schemas():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
