"""The OpenAI chat-completions protocol, shared by every provider that speaks it (OpenAI, Ark's Doubao,
DashScope's Qwen in compatible mode): plain and streamed chat (SSE chunks ending with ``data: [DONE]``, an
``{"error": …}`` chunk mid-stream is an error), and vision as a chat turn carrying the image as a data URL,
answered with one JSON object. :func:`build_compat` is the ``build`` every such provider package shares.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from genloom.core.settings import Settings
from genloom.providers.base import ChatMessage, ProviderError, TextChunk, TextResult, VisionRequest, VisionResult
from genloom.providers.http import call, iter_sse_data, make_client, openai_error, stream
from genloom.providers.resilience import GuardRegistry, ProviderGuard, classify

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


class CompatClient:
    """One credential on one OpenAI-style base URL, with the provider's guard."""

    def __init__(self, settings: Settings, *, provider: str, base_url: str, api_key: str, guard: ProviderGuard,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.provider = provider
        self.base = base_url.rstrip("/")
        self.guard = guard
        self.http = http or make_client(settings, headers={"Authorization": f"Bearer {api_key}"})

    async def aclose(self) -> None:
        await self.http.aclose()

    def bad_response(self, what: str) -> ProviderError:
        return ProviderError(f"{self.provider}: {what}", provider=self.provider, code="provider_bad_response",
                             retryable=True)

    async def post(self, operation: str, path: str, *, idempotent: bool = True, **request: Any) -> Any:
        return await call(self.guard, self.http, operation, "POST", f"{self.base}{path}", idempotent=idempotent,
                          parse_error=openai_error, **request)


#: builds one capability's provider from the shared client and the chosen model
Maker = Callable[["CompatClient", str], Any]


def build_compat(settings: Settings, capability: str, *, provider: str, base_url: str, api_key: str,
                 defaults: Mapping[str, str], makers: Mapping[str, Maker], guards: GuardRegistry) -> Any:
    """The provider for ``capability`` of an OpenAI-style ``provider``: one :class:`CompatClient` (and guard) per
    process is shared by all its capabilities; the model is ``{capability}_model`` or the provider's default."""
    guard, clients = guards.get(provider), guards.clients
    if provider not in clients:
        clients[provider] = CompatClient(settings, provider=provider, base_url=base_url, api_key=api_key,
                                         guard=guard)
    client: CompatClient = clients[provider]
    model = str(getattr(settings, f"{capability}_model", "") or defaults.get(capability, ""))
    maker = makers.get(capability)
    if maker is None:
        raise ValueError(f"{provider} has no {capability} capability")
    return maker(client, model)


def chat_body(model: str, messages: list[dict[str, Any]], *, temperature: float, max_tokens: int | None,
              streaming: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature, **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if streaming:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def first_content(client: CompatClient, data: Any) -> str:
    """``choices[0].message.content`` as text (a list of parts is joined)."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise client.bad_response("the chat answer has no choices") from None
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def parse_json_answer(client: CompatClient, text: str) -> dict[str, Any]:
    """The JSON object in a model's answer, tolerating a ``` fence or prose around it."""
    cleaned = _FENCE.sub("", text.strip())
    value: Any = None
    try:
        value = json.loads(cleaned)
    except ValueError:
        start, end = cleaned.find("{"), cleaned.rfind("}")
        if 0 <= start < end:
            try:
                value = json.loads(cleaned[start : end + 1])
            except ValueError:
                value = None
    if not isinstance(value, dict):
        raise client.bad_response("the vision answer was not a JSON object")
    return value


def stream_error_status(err: dict[str, Any]) -> int:
    """The HTTP status an ``{"error": …}`` stream chunk stands for (500 when it names none)."""
    status = err.get("status")
    if isinstance(status, int) and status:
        return status
    if isinstance(status, str) and status.isdigit():
        return int(status)
    return 500


class CompatService:
    """What every capability on a :class:`CompatClient` shares: the client, the provider's name, the model."""

    def __init__(self, client: CompatClient, model: str) -> None:
        self.client = client
        self.name = client.provider
        self.model = model

    async def aclose(self) -> None:
        await self.client.aclose()


class CompatText(CompatService):
    """TextProvider over ``POST {base}/chat/completions``."""

    async def complete(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                       max_tokens: int | None = None) -> TextResult:
        body = chat_body(self.model, [{"role": m.role, "content": m.content} for m in messages],
                         temperature=temperature, max_tokens=max_tokens)
        data = await self.client.post("text.complete", "/chat/completions", json=body)
        usage = data.get("usage") if isinstance(data, dict) else None
        return TextResult(text=first_content(self.client, data), provider=self.name,
                          model=str(data.get("model") or self.model),
                          usage={k: int(v) for k, v in (usage or {}).items() if isinstance(v, int)})

    async def stream(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                     max_tokens: int | None = None) -> AsyncIterator[str]:
        async for chunk in self.stream_chunks(messages, temperature=temperature, max_tokens=max_tokens):
            if chunk.delta:
                yield chunk.delta

    async def stream_chunks(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                            max_tokens: int | None = None) -> AsyncIterator[TextChunk]:
        """The streamed answer piece by piece as the provider sends it, then its finish reason and the usage of
        the closing ``include_usage`` chunk. Closing the iterator early closes the HTTP stream, which is how a
        canceled reply stops the provider's generation."""
        body = chat_body(self.model, [{"role": m.role, "content": m.content} for m in messages],
                         temperature=temperature, max_tokens=max_tokens, streaming=True)
        client = self.client
        async with stream(client.guard, client.http, "text.stream", "POST", f"{client.base}/chat/completions",
                          json=body, parse_error=openai_error) as response:
            async for data in iter_sse_data(response):
                if data.strip() == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise client.bad_response("a stream chunk was not valid JSON") from None
                if not isinstance(chunk, dict):
                    raise client.bad_response("a stream chunk was not a JSON object")
                if isinstance(chunk.get("error"), dict):
                    # the stream had started (200) when the provider failed: the error is a data line
                    err = chunk["error"]
                    raise classify(client.provider, stream_error_status(err), code=err.get("code") or err.get("type"),
                                   message=err.get("message"))
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    yield TextChunk(usage={k: int(v) for k, v in usage.items() if isinstance(v, int)})
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    finish = choice.get("finish_reason")
                    if piece or finish:
                        yield TextChunk(delta=str(piece or ""), finish_reason=str(finish) if finish else None)


class CompatVision(CompatService):
    """VisionProvider: one chat turn with the image as a data URL and the instruction, answered as JSON."""

    def __init__(self, client: CompatClient, model: str, *, json_mode: bool = True) -> None:
        super().__init__(client, model)
        #: send ``response_format: json_object`` (not every model behind an OpenAI-style API accepts it)
        self.json_mode = json_mode

    async def analyze(self, request: VisionRequest) -> VisionResult:
        data_url = f"data:{request.image_mime};base64,{base64.b64encode(request.image).decode()}"
        instruction = request.instruction
        if request.schema_hint:
            instruction += "\nAnswer with one JSON object shaped like: " + json.dumps(request.schema_hint,
                                                                                      ensure_ascii=False)
        else:
            instruction += "\nAnswer with one JSON object."
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url}},
            {"type": "text", "text": instruction},
        ]}]
        extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        body = chat_body(self.model, messages, temperature=0.2, max_tokens=None, **extra)
        answer = await self.client.post("vision.analyze", "/chat/completions", json=body)
        data = parse_json_answer(self.client, first_content(self.client, answer))
        return VisionResult(data=data, provider=self.name, model=str(answer.get("model") or self.model))
