"""Qwen-VL through the OpenAI-compatible chat endpoint: an image (as a data URL) plus an instruction, answered
as a JSON object."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from genloom.providers.base import ProviderError, VisionRequest, VisionResult
from genloom.providers.dashscope.common import DEFAULT_VISION_MODEL, PROVIDER, DashScopeClient
from genloom.providers.dashscope.text import chat, chat_body, first_content

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_json_answer(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (tolerating a ``` fence or prose around it)."""
    cleaned = _FENCE.sub("", text.strip())
    try:
        value = json.loads(cleaned)
    except ValueError:
        start, end = cleaned.find("{"), cleaned.rfind("}")
        try:
            value = json.loads(cleaned[start : end + 1]) if 0 <= start < end else None
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ProviderError(f"{PROVIDER}: the vision answer was not a JSON object", provider=PROVIDER,
                            code="provider_bad_response", retryable=True)
    return value


class QwenVision:
    """VisionProvider: qwen-vl-plus / qwen-vl-max / qwen2.5-vl-…"""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "") -> None:
        self.client = client
        self.model = model or DEFAULT_VISION_MODEL

    async def aclose(self) -> None:
        await self.client.aclose()

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
        body = chat_body(self.model, messages, temperature=0.2, max_tokens=None,
                         response_format={"type": "json_object"})
        answer = await chat(self.client, "vision.analyze", body)
        return VisionResult(data=parse_json_answer(first_content(answer)), provider=self.name, model=self.model)
