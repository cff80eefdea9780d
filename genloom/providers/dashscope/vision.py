"""Qwen-VL through the OpenAI-compatible chat endpoint: an image (as a data URL) plus an instruction, answered
as a JSON object (the shared vision turn of :mod:`genloom.providers.openai.compat`)."""

from __future__ import annotations

from genloom.providers.dashscope.common import DEFAULT_VISION_MODEL, PROVIDER, DashScopeClient
from genloom.providers.openai.compat import CompatVision


class QwenVision(CompatVision):
    """VisionProvider: qwen-vl-plus / qwen-vl-max / qwen2.5-vl-…"""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "") -> None:
        super().__init__(client.chat_api, model or DEFAULT_VISION_MODEL)
