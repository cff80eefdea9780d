"""Qwen chat through DashScope's OpenAI-compatible endpoint (``/compatible-mode/v1/chat/completions``), plain
and streamed (SSE chunks ending with ``data: [DONE]``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from genloom.providers.base import ChatMessage, ProviderError, TextResult
from genloom.providers.dashscope.common import DEFAULT_TEXT_MODEL, PROVIDER, DashScopeClient
from genloom.providers.http import call, iter_sse_data, openai_error, stream
from genloom.providers.resilience import classify


def chat_body(model: str, messages: list[dict[str, Any]], *, temperature: float, max_tokens: int | None,
              streaming: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature, **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if streaming:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def first_content(data: Any) -> str:
    """``choices[0].message.content`` as text (a list of parts is joined)."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(f"{PROVIDER}: the chat answer has no choices", provider=PROVIDER,
                            code="provider_bad_response", retryable=True) from None
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


async def chat(client: DashScopeClient, operation: str, body: dict[str, Any]) -> Any:
    return await call(client.guard, client.http, operation, "POST", f"{client.compat}/chat/completions",
                      json=body, parse_error=openai_error)


class QwenText:
    """TextProvider: Qwen models (qwen-plus, qwen-turbo, qwen-max, qwen3-…)."""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "") -> None:
        self.client = client
        self.model = model or DEFAULT_TEXT_MODEL

    async def aclose(self) -> None:
        await self.client.aclose()

    async def complete(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                       max_tokens: int | None = None) -> TextResult:
        body = chat_body(self.model, [{"role": m.role, "content": m.content} for m in messages],
                         temperature=temperature, max_tokens=max_tokens)
        data = await chat(self.client, "text.complete", body)
        usage = data.get("usage") if isinstance(data, dict) else None
        return TextResult(text=first_content(data), provider=self.name, model=str(data.get("model") or self.model),
                          usage={k: int(v) for k, v in (usage or {}).items() if isinstance(v, int)})

    async def stream(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                     max_tokens: int | None = None) -> AsyncIterator[str]:
        body = chat_body(self.model, [{"role": m.role, "content": m.content} for m in messages],
                         temperature=temperature, max_tokens=max_tokens, streaming=True)
        async with stream(self.client.guard, self.client.http, "text.stream", "POST",
                          f"{self.client.compat}/chat/completions", json=body, parse_error=openai_error) as response:
            async for data in iter_sse_data(response):
                if data.strip() == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise ProviderError(f"{PROVIDER}: a stream chunk was not valid JSON", provider=PROVIDER,
                                        code="provider_bad_response", retryable=True) from None
                if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
                    err = chunk["error"]
                    raise classify(PROVIDER, int(err.get("status") or 500), code=err.get("code") or err.get("type"),
                                   message=err.get("message"))
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield str(piece)
