"""Integers as JSON Schema reads them: ``3`` and ``3.0`` are the same integer; ``"3"`` and ``true`` are not one.

pydantic's lax ``int`` also takes numeric text and booleans (which the OpenAPI document's ``type: integer``
refuses) and its strict ``int`` refuses ``3.0`` (which the document allows). Bodies whose integers must match
the document add :data:`JSON_INTEGER` after their constraints (``Annotated[int, Field(ge=0), JSON_INTEGER]``:
constraints placed after a validator would no longer reach the JSON schema); a fractional number is still
refused by pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


#: the validator of an integer body field: a JSON number without a fractional part
JSON_INTEGER = BeforeValidator(_json_integer)
