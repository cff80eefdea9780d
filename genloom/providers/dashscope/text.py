"""Qwen chat through DashScope's OpenAI-compatible endpoint (``/compatible-mode/v1/chat/completions``), plain
and streamed (SSE chunks ending with ``data: [DONE]``): the shared OpenAI chat protocol of
:mod:`genloom.providers.openai.compat`."""

from __future__ import annotations

from genloom.providers.dashscope.common import DEFAULT_TEXT_MODEL, PROVIDER, DashScopeClient
from genloom.providers.openai.compat import CompatText


class QwenText(CompatText):
    """TextProvider: Qwen models (qwen-plus, qwen-turbo, qwen-max, qwen3-…)."""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "") -> None:
        super().__init__(client.chat_api, model or DEFAULT_TEXT_MODEL)
