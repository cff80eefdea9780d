"""GenFlow request and response shapes for articles and search (camelCase JSON), with the examples the OpenAPI
document shows. Errors are RFC 9457 problem+json (see :func:`problem`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from genloom.articles.diff import VersionDiff
from genloom.articles.models import Article, ArticleVersion
from genloom.core.http import problem_title
from genloom.core.jsonint import JSON_INTEGER
from genloom.core.patterns import VISIBLE_TEXT
from genloom.search.service import SearchHit

ARTICLE_ID = "01a23ba5-b78f-7007-a2ab-42bd857ab6e5"
AUTHOR_ID = "01a23b9f-0c11-7a42-9d1e-5b3f1c2d4e6f"
COLLABORATOR_ID = "01a23ba0-4e21-7c13-8f55-0a9b8c7d6e5f"
STAMP = "2026-12-03T11:30:00.123456Z"
Status = Literal["draft", "published"]
#: a title is stripped by the service: one that is only whitespace is a 400 (invalid_title)
TITLE: dict[str, Any] = {"pattern": VISIBLE_TEXT}


def _config(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                      json_schema_extra={"example": example})


def problem(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """An OpenAPI response entry: the problem+json body genloom sends for this error."""
    body: dict[str, Any] = {"type": f"https://genloom.dev/errors/{code}", "title": problem_title(status, code),
                            "status": status,
                            "code": code, "message": message, "detail": message, "instance": f"/articles/{ARTICLE_ID}"}
    if field:
        body["field"] = field
    return {"description": message, "content": {"application/problem+json": {"example": body}}}


# --- requests ------------------------------------------------------------------------------------------


class ArticleCreate(BaseModel):
    model_config = _config({"title": "人工智能的发展", "content": "# 人工智能的发展\n\n从规则系统到大模型……",
                            "status": "draft"})

    title: str = Field(min_length=1, max_length=200, json_schema_extra=TITLE)
    #: markdown; the 1 MiB limit is checked on UTF-8 bytes by the service (413 content_too_large)
    content: str = Field(default="", max_length=1024 * 1024)
    status: Status = "draft"


class ArticleSave(BaseModel):
    model_config = _config({"content": "# 人工智能的发展\n\n第二稿。", "version": 3, "message": "rewrote the intro"})

    title: str | None = Field(default=None, min_length=1, max_length=200, json_schema_extra=TITLE)
    content: str = Field(max_length=1024 * 1024)
    #: the version this edit is based on, when If-Match is not sent (stale → 409)
    version: Annotated[int, Field(ge=1), JSON_INTEGER] | None = None
    message: str = Field(default="", max_length=200)


def _patch_schema(schema: dict[str, Any]) -> None:
    # at least one of the two, and null is no value (no default either): there is nothing to change otherwise
    schema.update(example={"status": "published"}, minProperties=1)
    for prop in schema["properties"].values():
        prop.pop("default", None)


class ArticlePatch(BaseModel):
    model_config = _config({}) | ConfigDict(json_schema_extra=_patch_schema)

    title: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200, json_schema_extra=TITLE)
    status: Status | SkipJsonSchema[None] = None

    @field_validator("title", "status", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null: leave the field out to keep it")
        return value


# --- responses -----------------------------------------------------------------------------------------

_ARTICLE = {"id": ARTICLE_ID, "title": "人工智能的发展", "content": "# 人工智能的发展\n\n从规则系统到大模型……",
            "status": "draft", "authorId": AUTHOR_ID, "version": 3, "collaborators": [COLLABORATOR_ID],
            "createdAt": STAMP, "updatedAt": STAMP, "publishedAt": None}


class ArticleSummary(BaseModel):
    model_config = _config({k: v for k, v in _ARTICLE.items() if k not in ("content", "collaborators")})

    id: str
    title: str
    status: Status
    author_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    deleted_at: datetime | None = None


class ArticleOut(ArticleSummary):
    model_config = _config(_ARTICLE)

    content: str
    collaborators: list[str]


class ArticlePage(BaseModel):
    model_config = _config({"items": [ArticleSummary.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
                            "nextCursor": "MDFhMjNiYTUtYjc4Zi03MDA3LWEyYWItNDJiZDg1N2FiNmU1"})

    items: list[ArticleSummary]
    next_cursor: str | None


class VersionSummary(BaseModel):
    model_config = _config({"n": 3, "title": "人工智能的发展", "authorId": COLLABORATOR_ID,
                            "message": "rewrote the intro", "createdAt": STAMP})

    n: int
    title: str
    author_id: str | None
    message: str
    created_at: datetime


class VersionOut(VersionSummary):
    model_config = _config({"n": 3, "title": "人工智能的发展", "content": "# 人工智能的发展\n\n第二稿。",
                            "authorId": COLLABORATOR_ID, "message": "rewrote the intro", "createdAt": STAMP})

    content: str


class VersionPage(BaseModel):
    model_config = _config({"items": [VersionSummary.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
                            "nextCursor": None})

    items: list[VersionSummary]
    next_cursor: str | None


class DiffLineOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    op: Literal["equal", "insert", "delete"]
    text: str
    old_line: int | None
    new_line: int | None


class HunkOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    lines: list[DiffLineOut]


class DiffOut(BaseModel):
    model_config = _config({
        "from": 1, "to": 2, "titleChanged": False, "added": 1, "removed": 1,
        "unified": "--- v1\n+++ v2\n@@ -1,2 +1,2 @@\n # 标题\n-初稿\n+第二稿\n",
        "hunks": [{"oldStart": 1, "oldLines": 2, "newStart": 1, "newLines": 2, "lines": [
            {"op": "equal", "text": "# 标题", "oldLine": 1, "newLine": 1},
            {"op": "delete", "text": "初稿", "oldLine": 2, "newLine": None},
            {"op": "insert", "text": "第二稿", "oldLine": None, "newLine": 2}]}],
    })

    from_: int = Field(alias="from")
    to: int
    title_changed: bool
    added: int
    removed: int
    unified: str
    hunks: list[HunkOut]


class SearchHitOut(BaseModel):
    model_config = _config({"id": ARTICLE_ID, "title": "人工智能的发展",
                            "snippet": "…本文讨论<mark>人工智能</mark>的发展与未来。", "score": 0.6079,
                            "status": "published", "updatedAt": STAMP})

    id: str
    title: str
    snippet: str
    score: float
    status: Status
    updated_at: datetime


class SearchPage(BaseModel):
    model_config = _config({"items": [SearchHitOut.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
                            "nextCursor": "cDoyMA"})

    items: list[SearchHitOut]
    next_cursor: str | None


# --- builders ------------------------------------------------------------------------------------------


def summary_of(article: Article) -> ArticleSummary:
    return ArticleSummary(id=article.id, title=article.title, status=article.status,  # type: ignore[arg-type]
                          author_id=article.author_id, version=article.version, created_at=article.created_at,
                          updated_at=article.updated_at, published_at=article.published_at,
                          deleted_at=article.deleted_at)


def article_of(article: Article, collaborators: list[str]) -> ArticleOut:
    return ArticleOut(**summary_of(article).model_dump(), content=article.content, collaborators=collaborators)


def version_summary_of(version: ArticleVersion) -> VersionSummary:
    return VersionSummary(n=version.n, title=version.title, author_id=version.author_id, message=version.message,
                          created_at=version.created_at)


def version_of(version: ArticleVersion) -> VersionOut:
    return VersionOut(**version_summary_of(version).model_dump(), content=version.content)


def diff_of(from_n: int, to_n: int, diff: VersionDiff) -> DiffOut:
    hunks = [HunkOut(old_start=h.old_start, old_lines=h.old_lines, new_start=h.new_start, new_lines=h.new_lines,
                     lines=[DiffLineOut(op=ln.op, text=ln.text, old_line=ln.old_line, new_line=ln.new_line)
                            for ln in h.lines]) for h in diff.hunks]
    return DiffOut.model_validate({"from": from_n, "to": to_n, "title_changed": diff.title_changed,
                                   "added": diff.added, "removed": diff.removed, "unified": diff.unified,
                                   "hunks": hunks})


def hit_of(hit: SearchHit) -> SearchHitOut:
    return SearchHitOut(id=hit.id, title=hit.title, snippet=hit.snippet, score=hit.score,
                        status=hit.status, updated_at=hit.updated_at)  # type: ignore[arg-type]
