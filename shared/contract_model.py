"""The base of every message model: camelCase JSON names, immutable, titled by their JSON name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ContractModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        field_title_generator=lambda name, _info: to_camel(name),
    )
