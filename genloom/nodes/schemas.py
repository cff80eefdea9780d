"""Request and response shapes of nodes (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

MAX_CONTENT = 20_000
MAX_PAGE_SIZE = 100


class NodeStatus(StrEnum):
    active = "active"  #: in use
    archived = "archived"  #: kept, but hidden from the default working set by clients


class NodeSort(StrEnum):
    updated_desc = "-updatedAt"  #: most recently changed first (default)
    updated_asc = "updatedAt"
    created_desc = "-createdAt"
    created_asc = "createdAt"


_EXAMPLE_NODE: dict[str, Any] = {
    "id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "content": "雨夜的霓虹街道，一位撑伞的少女",
    "status": "active",
    "version": 1,
    "createdAt": "2026-11-23T10:00:00Z",
    "updatedAt": "2026-11-23T10:00:00Z",
    "deletedAt": None,
}


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _strip_content(value: str) -> str:
    if not value.strip():
        raise ValueError("content must not be blank")
    return value


class NodeCreate(_Camel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid",
        json_schema_extra={"examples": [{"content": "雨夜的霓虹街道，一位撑伞的少女", "status": "active"}]},
    )

    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    status: NodeStatus = NodeStatus.active

    _content = field_validator("content")(_strip_content)


class NodeUpdate(_Camel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid",
        json_schema_extra={"examples": [{"content": "雨夜的霓虹街道，两位撑伞的少女", "version": 1},
                                        {"status": "archived"}]},
    )

    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    status: NodeStatus | None = None
    #: the version the client read; an alternative to If-Match
    version: int | None = Field(default=None, ge=1)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        return None if value is None else _strip_content(value)


class NodeRead(_Camel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True,
        json_schema_extra={"examples": [dict(_EXAMPLE_NODE)]},
    )

    id: str
    content: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class NodeList(_Camel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True,
        json_schema_extra={"examples": [{"items": [_EXAMPLE_NODE], "total": 1, "page": 1, "size": 20}]},
    )

    items: list[NodeRead]
    total: int
    page: int
    size: int


class Keyword(_Camel):
    word: str
    weight: float


class KeywordList(_Camel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True,
        json_schema_extra={"examples": [{"nodeId": _EXAMPLE_NODE["id"], "source": "database",
                                         "items": [{"word": "霓虹", "weight": 1.42}, {"word": "少女", "weight": 0.98}]}]},
    )

    node_id: str
    #: "database" (jieba TF-IDF) or "ai" (the configured text provider)
    source: str
    items: list[Keyword]


def node_out(node: Any) -> dict[str, Any]:
    """The node as its camelCase JSON dict."""
    return NodeRead.model_validate(node).model_dump(mode="json", by_alias=True)
