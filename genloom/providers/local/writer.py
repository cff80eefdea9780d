"""Offline writing assistant: answers a chat about a text by rule, no network, no model.

It reads the last user message for what is asked (summarise, give a title, continue, polish, keywords; in
Chinese or English) and answers from the text the conversation carries: an ``Article:`` excerpt in a system
message, else the user's own message. The answer is deterministic (same conversation, same words), so the
whole assistant works and is testable without keys. ``stream_chunks`` yields it a few characters at a time,
the way a remote model streams tokens.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from genloom.providers.base import ChatMessage, ProviderError, TextChunk, TextResult

MODEL = "writer-rules-v1"
_SENTENCE = re.compile(r"(?<=[。！？.!?])\s*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PIECE = re.compile(r"[\u3400-\u9fff]{1,2}|\s*[^\s\u3400-\u9fff]+\s*|\s+")

#: (words that ask for it, what to answer)
_INTENTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("summar", "总结", "摘要", "概括"), "summary"),
    (("title", "标题", "题目"), "title"),
    (("continue", "续写", "接着", "继续"), "continue"),
    (("polish", "rewrite", "improve", "润色", "改写", "修改"), "polish"),
    (("keyword", "关键词", "标签"), "keywords"),
)


def _source_text(messages: list[ChatMessage]) -> str:
    """The article excerpt the context carries (``Article:`` block of a system message), else the last user turn."""
    for message in messages:
        if message.role == "system" and "Article:" in message.content:
            title, _, body = message.content.split("Article:", 1)[1].partition("\n")  # "Article: <title>\n<text>"
            return body.strip() or title.strip()
    users = [m.content for m in messages if m.role == "user"]
    return users[-1] if users else ""


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _keywords(text: str, top: int = 5) -> list[str]:
    import jieba.analyse

    return [str(word) for word in jieba.analyse.extract_tags(text, topK=top)]


def answer(messages: list[ChatMessage]) -> str:
    """The rule-based answer to the conversation's last user message."""
    users = [m.content for m in messages if m.role == "user" and m.content.strip()]
    if not users:
        raise ProviderError("no user message to answer", provider="local", code="empty_prompt")
    asked = users[-1].lower()
    intent = next((name for words, name in _INTENTS if any(w in asked for w in words)), "advice")
    source = _source_text(messages)
    chinese = bool(_CJK.search(users[-1] + source))
    sentences = _sentences(source) or [source.strip() or users[-1].strip()]
    keywords = _keywords(source) or _keywords(users[-1])
    if intent == "summary":
        body = " ".join(sentences[:2])
        return f"摘要：{body}" if chinese else f"Summary: {body}"
    if intent == "title":
        head = "、".join(keywords[:3]) if chinese else " ".join(k.capitalize() for k in keywords[:3])
        return f"建议标题：{head}" if chinese else f"Suggested title: {head}"
    if intent == "keywords":
        return ("关键词：" if chinese else "Keywords: ") + ", ".join(keywords)
    if intent == "continue":
        last = sentences[-1]
        topic = keywords[0] if keywords else last
        return (f"接着「{last}」：围绕{topic}，下一段可以给出一个具体的例子，再说明它带来的影响。" if chinese
                else f"Continuing from \"{last}\": the next paragraph could give a concrete example of {topic} "
                     f"and then explain what follows from it.")
    if intent == "polish":
        tidy = " ".join(s[0].upper() + s[1:] if s[:1].isalpha() else s for s in sentences)
        return f"润色后：{tidy}" if chinese else f"Polished: {tidy}"
    focus = ", ".join(keywords[:3])
    return (f"建议：文章围绕{focus}展开；开头先点明主题，每段只讲一个要点，结尾呼应开头。" if chinese
            else f"Suggestions: the text is about {focus}. State the main point first, keep one idea per "
                 f"paragraph, and end by returning to the opening.")


def pieces(text: str) -> list[str]:
    """``text`` cut the way a model streams it: one or two CJK characters, or one word with its spacing."""
    return _PIECE.findall(text)


def _count(text: str) -> int:
    return len(pieces(text))


class LocalWriterProvider:
    """TextProvider for the writing assistant when no remote text provider is configured."""

    name = "local"
    model = MODEL

    async def complete(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                       max_tokens: int | None = None) -> TextResult:
        text = self._limited(answer(messages), max_tokens)
        usage = {"prompt_tokens": sum(_count(m.content) for m in messages), "completion_tokens": _count(text)}
        return TextResult(text=text, provider=self.name, model=MODEL, usage=usage)

    async def stream(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                     max_tokens: int | None = None) -> AsyncIterator[str]:
        async for chunk in self.stream_chunks(messages, temperature=temperature, max_tokens=max_tokens):
            if chunk.delta:
                yield chunk.delta

    async def stream_chunks(self, messages: list[ChatMessage], *, temperature: float = 0.7,
                            max_tokens: int | None = None) -> AsyncIterator[TextChunk]:
        full = answer(messages)
        text = self._limited(full, max_tokens)
        parts = pieces(text)
        for part in parts:
            await asyncio.sleep(0)  # yield to the loop between pieces, as a network stream would
            yield TextChunk(delta=part)
        usage = {"prompt_tokens": sum(_count(m.content) for m in messages), "completion_tokens": len(parts)}
        yield TextChunk(finish_reason="length" if text != full else "stop", usage=usage)

    @staticmethod
    def _limited(text: str, max_tokens: int | None) -> str:
        if max_tokens is None:
            return text
        return "".join(pieces(text)[:max_tokens])
