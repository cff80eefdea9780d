"""One-shot writing help outside a conversation: analysing a text. Keywords (jieba TF-IDF), readability and
suggestions are measured by rule; the summary comes from the text provider. (A continuation or rewrite at a
cursor is a stored turn: :func:`genloom.assistant.turns.start_completion`.)"""

from __future__ import annotations

import re
from typing import Any

from genloom.assistant import context, limits
from genloom.assistant.generation import AssistantDeps, model_of, writer_for
from genloom.assistant.tokens import counter_for
from genloom.core.errors import InvalidInput
from genloom.core.principal import Principal
from genloom.providers.base import ChatMessage, ProviderError

MAX_ANALYZE_CHARS = 200_000
_SENTENCE_END = re.compile(r"[。！？.!?]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
LONG_SENTENCE_CHARS = {"zh": 60, "en": 180}


def readability(text: str) -> dict[str, Any]:
    """Counts and a 0–100 ease score from sentence length (shorter reads easier), for Chinese and English."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    sentences = max(1, len([s for s in _SENTENCE_END.split(text) if s.strip()]))
    paragraphs = max(1, len([p for p in re.split(r"\n\s*\n", text) if p.strip()]))
    chinese = cjk >= words
    units = cjk if chinese else words
    per_sentence = units / sentences
    # ~20 characters (zh) or ~15 words (en) per sentence reads easily; ease falls as sentences grow
    ideal = 20 if chinese else 15
    score = max(0, min(100, round(100 - max(0.0, per_sentence - ideal) * (2.0 if chinese else 3.0))))
    level = "easy" if score >= 70 else "medium" if score >= 40 else "hard"
    minutes = units / (300 if chinese else 220)
    return {"language": "zh" if chinese else "en", "characters": len(text), "words": words, "cjkCharacters": cjk,
            "sentences": sentences, "paragraphs": paragraphs, "avgSentenceLength": round(per_sentence, 1),
            "readingMinutes": round(minutes, 1), "score": score, "level": level}


def suggestions(text: str, stats: dict[str, Any], keywords: list[str]) -> list[str]:
    zh = stats["language"] == "zh"
    out: list[str] = []
    limit = LONG_SENTENCE_CHARS[stats["language"]]
    long_ones = [s for s in _SENTENCE_END.split(text) if len(s.strip()) > limit]
    if long_ones:
        out.append(f"有 {len(long_ones)} 个句子过长，建议拆分。" if zh
                   else f"{len(long_ones)} sentence(s) are very long; consider splitting them.")
    if stats["paragraphs"] == 1 and stats["sentences"] > 6:
        out.append("全文只有一段，建议按要点分段。" if zh else "The text is one paragraph; break it up by idea.")
    if not re.search(r"^#{1,6}\s", text, re.M) and stats["paragraphs"] >= 4:
        out.append("可以加小标题，方便读者浏览。" if zh else "Add headings so readers can scan the text.")
    if keywords and text.count(keywords[0]) >= 8:
        out.append(f"「{keywords[0]}」出现较多，可适当换用同义表达。" if zh
                   else f"\"{keywords[0]}\" appears often; vary the wording.")
    if not out:
        out.append("结构清晰，可以再补充一个具体例子。" if zh else "Clear structure; a concrete example would help.")
    return out


async def analyze(deps: AssistantDeps, principal: Principal, content: str) -> dict[str, Any]:
    import jieba.analyse

    text = content.strip()
    if not text:
        raise InvalidInput("content must not be empty", field="content")
    if len(text) > MAX_ANALYZE_CHARS:
        raise InvalidInput(f"content is longer than {MAX_ANALYZE_CHARS} characters", field="content")
    async with deps.db.session() as s:
        await limits.check(s, deps.settings, principal.owner_id)
        usage_id = limits.record(s, principal.owner_id, "analyze")
    provider = writer_for(deps.text)
    count = counter_for(model_of(provider))
    excerpt = context.clip(text, deps.settings.assistant_context_tokens, count)
    try:
        result = await provider.complete([
            ChatMessage("system", "Summarise the text in two or three sentences, in its own language."),
            ChatMessage("user", f"Summarize this text:\n{excerpt}")], temperature=0.2, max_tokens=300)
    except ProviderError as exc:
        raise_unavailable(exc)
    async with deps.db.session() as s:
        await limits.set_tokens(s, usage_id, provider=provider.name, model=model_of(provider),
                                prompt_tokens=int(result.usage.get("prompt_tokens", count(excerpt))),
                                completion_tokens=int(result.usage.get("completion_tokens", count(result.text))))
    keywords = [str(k) for k in jieba.analyse.extract_tags(text, topK=8)]
    stats = readability(text)
    return {"summary": result.text.strip(), "keywords": keywords, "readability": stats,
            "suggestions": suggestions(text, stats, keywords), "provider": provider.name}


def raise_unavailable(exc: ProviderError) -> None:
    from genloom.assistant.errors import ProviderUnavailable

    raise ProviderUnavailable(f"the text provider is unavailable: {exc.message}"[:500], retry_after=exc.retry_after
                              or 5.0) from None
