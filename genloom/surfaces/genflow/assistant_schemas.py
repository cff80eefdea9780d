"""GenFlow assistant request bodies and the JSON shapes of sessions, messages and stream events."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from genloom.assistant.models import AssistantMessage, AssistantSession
from genloom.core.jsonint import JSON_INTEGER
from genloom.core.patterns import VISIBLE_TEXT

#: the assistant strips messages, texts to analyse and instructions: only whitespace is a 400 (must not be empty)
STRIPPED: dict[str, Any] = {"pattern": VISIBLE_TEXT}


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    article_id: str | None = Field(default=None, alias="articleId", max_length=36,
                                   description="an article you may read: its latest text goes into the context")
    system: str = Field(default="", max_length=8000, description="instructions for the assistant")
    title: str = Field(default="", max_length=200)


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=32000, json_schema_extra=STRIPPED)


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=200_000, json_schema_extra=STRIPPED)


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    article_id: str = Field(alias="articleId", max_length=36)
    cursor: Annotated[int, Field(ge=0), JSON_INTEGER] | None = Field(
        default=None, description="character offset in the article's text")
    instruction: str = Field(min_length=1, max_length=4000, json_schema_extra=STRIPPED)
    session_id: str | None = Field(default=None, alias="sessionId", max_length=36,
                                   description="a session of yours about this article (or about none) to store "
                                               "the completion in; without it, your completions session of the "
                                               "article")


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def session_dict(chat: AssistantSession) -> dict[str, Any]:
    return {"id": chat.id, "kind": chat.kind, "articleId": chat.article_id, "title": chat.title, "system": chat.system,
            "summary": chat.summary, "createdAt": iso(chat.created_at), "updatedAt": iso(chat.updated_at)}


def message_dict(message: AssistantMessage) -> dict[str, Any]:
    error = {"code": message.error_code, "message": message.error_message} if message.error_code else None
    return {"id": message.id, "sessionId": message.session_id, "seq": message.seq, "role": message.role,
            "content": message.content, "status": message.status, "finishReason": message.finish_reason,
            "usage": {"promptTokens": message.prompt_tokens, "completionTokens": message.completion_tokens},
            "provider": message.provider, "model": message.model, "error": error,
            "createdAt": iso(message.created_at), "finishedAt": iso(message.finished_at)}


SESSION_EXAMPLE = {"id": "0193a0c4-8f7e-7c21-9a55-2b6f0d1e4c11", "kind": "chat", "articleId": "0193a0c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                   "title": "Opening paragraph", "system": "Answer in Chinese.", "summary": "",
                   "createdAt": "2026-12-03T11:00:00Z", "updatedAt": "2026-12-03T11:00:00Z"}
MESSAGE_EXAMPLE = {"id": "0193a0c5-0b1c-7d2e-8f30-4a5b6c7d8e9f", "sessionId": SESSION_EXAMPLE["id"], "seq": 2,
                   "role": "assistant", "content": "建议：开头先点明主题……", "status": "complete",
                   "finishReason": "stop", "usage": {"promptTokens": 412, "completionTokens": 88},
                   "provider": "openai", "model": "gpt-4o-mini", "error": None,
                   "createdAt": "2026-12-03T11:00:02Z", "finishedAt": "2026-12-03T11:00:04Z"}
USER_MESSAGE_EXAMPLE = {**MESSAGE_EXAMPLE, "id": "0193a0c5-0b1c-7d2e-8f30-4a5b6c7d8e9e", "seq": 1, "role": "user",
                        "content": "怎样让开头更吸引人？", "finishReason": None, "provider": None, "model": None,
                        "usage": {"promptTokens": 0, "completionTokens": 0}}
SSE_EXAMPLE = ('event: start\ndata: {"messageId": "0193a0c5-…9f", "userMessageId": "0193a0c5-…9e", '
               '"sessionId": "0193a0c4-…11"}\n\n'
               'event: token\nid: 3\ndata: {"delta": "建议："}\n\n'
               'event: token\nid: 8\ndata: {"delta": "开头先点明"}\n\n'
               'event: done\ndata: {"messageId": "0193a0c5-…9f", "status": "complete", "finishReason": "stop", '
               '"usage": {"promptTokens": 412, "completionTokens": 88}}\n\n')
SSE_ERROR_EXAMPLE = ('event: start\ndata: {"messageId": "0193a0c5-…9f", "userMessageId": "0193a0c5-…9e", '
                     '"sessionId": "0193a0c4-…11"}\n\n'
                     'event: error\ndata: {"code": "provider_unavailable", "reason": "provider_unavailable_status", '
                     '"message": "the text provider is unavailable: openai: HTTP 503", "messageId": "0193a0c5-…9f"}\n\n')
ANALYZE_EXAMPLE = {"summary": "文章介绍人工智能在写作中的应用，并讨论其局限。", "keywords": ["人工智能", "写作", "模型"],
                   "readability": {"language": "zh", "characters": 1200, "words": 12, "cjkCharacters": 1100,
                                   "sentences": 40, "paragraphs": 6, "avgSentenceLength": 27.5,
                                   "readingMinutes": 3.7, "score": 85, "level": "easy"},
                   "suggestions": ["有 2 个句子过长，建议拆分。"], "provider": "openai"}
USAGE_EXAMPLE = {"requests": 12, "promptTokens": 5230, "completionTokens": 1210,
                 "byKind": {"chat": {"requests": 10, "promptTokens": 4800, "completionTokens": 1100},
                            "analyze": {"requests": 2, "promptTokens": 430, "completionTokens": 110}}}
