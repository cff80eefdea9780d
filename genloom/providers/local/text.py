"""Offline text provider: composes and refines image prompts by rule, no network, no model.

``complete`` takes the last user message, translates the Chinese words it knows (``glossary.GLOSSARY``), keeps
everything else as written, and tidies punctuation and repeated terms. A system message that carries
``style:`` / ``negative:`` lines (how pipelines pass hints) adds those terms. ``stream`` yields the same
completion word by word.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from genloom.providers.base import ChatMessage, ProviderError, TextResult
from genloom.providers.local.glossary import GLOSSARY, TERMS

MODEL = "rules-v1"
_CJK = re.compile(r"[\u3400-\u9fff]")
_PUNCT = str.maketrans({"，": ",", "、": ",", "；": ",", "。": ".", "：": ":", "！": "!", "？": "?",
                        "（": "(", "）": ")", "“": '"', "”": '"', "　": " "})


def translate(text: str) -> str:
    """Replace known Chinese terms with English, longest first; unknown characters stay as they are."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if _CJK.match(text[i]):
            for term in TERMS:
                if text.startswith(term, i):
                    english = GLOSSARY[term]
                    if english:
                        out.append(f" {english} ")
                    i += len(term)
                    break
            else:
                out.append(text[i])
                i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _tidy(text: str) -> str:
    text = text.translate(_PUNCT)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    text = re.sub(r"(, )+", ", ", text)
    parts: list[str] = []
    seen: set[str] = set()
    for part in (p.strip(" .") for p in text.split(",")):
        # drop empty and repeated comma-separated terms, keep the first spelling
        key = part.lower()
        if part and key not in seen:
            seen.add(key)
            parts.append(part)
    return ", ".join(parts)


def compose(prompt: str, *, styles: list[str] | None = None) -> str:
    """The refined English prompt: translated prompt, then style terms not already in it."""
    base = _tidy(translate(prompt))
    extra = [_tidy(translate(s)) for s in styles or [] if s.strip()]
    return _tidy(", ".join([base, *extra]))


def _hints(messages: list[ChatMessage], label: str) -> list[str]:
    found: list[str] = []
    for message in messages:
        if message.role != "system":
            continue
        for line in message.content.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == label:
                found.append(value.strip())
    return found


class LocalTextProvider:
    name = "local"

    async def complete(
        self, messages: list[ChatMessage], *, temperature: float = 0.7, max_tokens: int | None = None
    ) -> TextResult:
        users = [m.content for m in messages if m.role == "user" and m.content.strip()]
        if not users:
            raise ProviderError("no user message to complete", provider=self.name, code="empty_prompt")
        text = compose(users[-1], styles=_hints(messages, "style"))
        words = text.split()
        if max_tokens is not None and len(words) > max_tokens:
            text = " ".join(words[:max_tokens])
        usage = {"prompt_tokens": sum(len(m.content.split()) for m in messages), "completion_tokens": len(words)}
        return TextResult(text=text, provider=self.name, model=MODEL, usage=usage)

    async def stream(
        self, messages: list[ChatMessage], *, temperature: float = 0.7, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        result = await self.complete(messages, temperature=temperature, max_tokens=max_tokens)
        words = result.text.split(" ")
        for index, word in enumerate(words):
            yield word if index == len(words) - 1 else word + " "
