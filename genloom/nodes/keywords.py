"""Keywords of a node: jieba TF-IDF over the caller's live nodes (default), or the configured text provider.

TF-IDF: term frequency in the node × smoothed inverse document frequency over every live node of the owner,
``idf = ln((1 + N) / (1 + df)) + 1``. Document frequencies are cached per owner in the runtime and rebuilt
when a fingerprint of the live nodes (count, max updated_at, sum of versions) changes — every create, update,
delete and restore moves it, in this process or another. Tokenised nodes are cached by (id, version) so a
rebuild only segments the nodes that changed. jieba segmentation is CPU work: it runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.errors import InvalidInput, UpstreamError
from genloom.core.principal import Principal, scoped
from genloom.nodes.models import MindNode
from genloom.providers.base import ChatMessage, ProviderError, TextProvider

MAX_TOP = 50
TOKEN_CACHE_SIZE = 20_000  # (node id, version) entries kept per process
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_DIGITS = re.compile(r"^[\d.]+$")

#: common Chinese function words and fillers that never make a useful keyword
_STOP_ZH = set(
    "的 了 和 与 及 或 而 在 是 有 也 都 就 被 把 让 给 向 从 对 于 之 其 这 那 这个 那个 这些 那些 一个 一位 一种 "
    "一些 我们 你们 他们 她们 它们 我 你 他 她 它 自己 什么 怎么 如何 为什么 因为 所以 但是 然后 如果 虽然 可以 "
    "没有 不是 还是 已经 非常 十分 比较 进行 通过 以及 并且 或者 一下 一样 这样 那样 上 下 中 里 着 过 吗 呢 吧 啊".split()
)


def _stop_words() -> set[str]:
    import jieba.analyse

    return _STOP_ZH | {w.lower() for w in jieba.analyse.default_tfidf.stop_words}


_tokenizer_lock = threading.Lock()
_stop: set[str] | None = None


def warm_up() -> None:
    """Load jieba's dictionary and the stop words now (about a second of CPU), once per process, so that no
    request pays for it: the cineMind surface calls this in a thread as the server starts."""
    tokenize("")


def is_warm() -> bool:
    return _stop is not None


def tokenize(text: str) -> list[str]:
    """Meaningful terms of ``text`` (jieba exact mode): no stop words, punctuation, numbers or single letters."""
    import jieba

    global _stop
    with _tokenizer_lock:  # jieba initialises its dictionary lazily; serialise the first use
        if _stop is None:
            jieba.setLogLevel(40)
            jieba.initialize()
            _stop = _stop_words()
    out = []
    for raw in jieba.lcut(text):
        word = raw.strip().lower()
        if not word or word in _stop or not _WORD.search(word) or _DIGITS.match(word):
            continue
        if len(word) == 1 and word.isascii():
            continue
        out.append(word)
    return out


@dataclass
class _OwnerStats:
    fingerprint: tuple[Any, ...] = ()
    docs: int = 0
    df: Counter[str] = field(default_factory=Counter)


@dataclass
class KeywordIndex:
    """Per-process cache of document frequencies (``runtime.keywords``)."""

    owners: dict[str, _OwnerStats] = field(default_factory=dict)
    tokens: OrderedDict[tuple[str, int], list[str]] = field(default_factory=OrderedDict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def cached_tokens(self, node_id: str, version: int) -> list[str] | None:
        key = (node_id, version)
        hit = self.tokens.get(key)
        if hit is not None:
            self.tokens.move_to_end(key)
        return hit

    def remember(self, node_id: str, version: int, terms: list[str]) -> None:
        self.tokens[(node_id, version)] = terms
        while len(self.tokens) > TOKEN_CACHE_SIZE:
            self.tokens.popitem(last=False)


def _live(principal: Principal) -> Any:
    return scoped(select(MindNode.id), MindNode.owner_id, principal, "nodes").where(MindNode.deleted_at.is_(None))


async def _fingerprint(session: AsyncSession, principal: Principal) -> tuple[Any, ...]:
    ids = _live(principal).subquery()
    stmt = select(func.count(), func.max(MindNode.updated_at), func.coalesce(func.sum(MindNode.version), 0)).where(
        MindNode.id.in_(select(ids.c.id))
    )
    row = (await session.execute(stmt)).one()
    return (int(row[0]), row[1], int(row[2]))


def _tokenize_many(items: list[tuple[str, int, str]]) -> list[tuple[str, int, list[str]]]:
    return [(node_id, version, tokenize(content)) for node_id, version, content in items]


async def _tokens_for(session: AsyncSession, index: KeywordIndex, rows: list[tuple[str, int]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    missing: list[str] = []
    for node_id, version in rows:
        hit = index.cached_tokens(node_id, version)
        if hit is None:
            missing.append(node_id)
        else:
            out[node_id] = hit
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        found = (await session.execute(select(MindNode.id, MindNode.version, MindNode.content)
                                       .where(MindNode.id.in_(chunk)))).all()
        texts = [(r.id, r.version, r.content) for r in found]
        tokenised = await asyncio.to_thread(_tokenize_many, texts)
        for node_id, version, terms in tokenised:
            index.remember(node_id, version, terms)
            out[node_id] = terms
    return out


async def _stats(session: AsyncSession, principal: Principal, index: KeywordIndex) -> _OwnerStats:
    scope = "*" if principal.sees_all("nodes") else principal.owner_id
    async with index.lock:
        fingerprint = await _fingerprint(session, principal)
        stats = index.owners.get(scope)
        if stats is not None and stats.fingerprint == fingerprint:
            return stats
        ids = _live(principal).subquery()
        rows = [(r.id, r.version) for r in (await session.execute(
            select(MindNode.id, MindNode.version).where(MindNode.id.in_(select(ids.c.id))))).all()]
        tokens = await _tokens_for(session, index, rows)
        df: Counter[str] = Counter()
        for terms in tokens.values():
            df.update(set(terms))
        stats = _OwnerStats(fingerprint=fingerprint, docs=len(rows), df=df)
        index.owners[scope] = stats
        return stats


def tfidf(terms: list[str], *, docs: int, df: Counter[str], top: int) -> list[dict[str, Any]]:
    """Top terms by tf × idf, heaviest first (ties: alphabetical, so results are stable)."""
    if not terms:
        return []
    counts = Counter(terms)
    total = len(terms)
    scored = []
    for word, n in counts.items():
        idf = math.log((1 + docs) / (1 + df.get(word, 0))) + 1.0
        scored.append((round(n / total * idf, 6), word))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [{"word": w, "weight": s} for s, w in scored[:top]]


def check_top(top: int) -> int:
    if not 1 <= top <= MAX_TOP:
        raise InvalidInput(f"top must be between 1 and {MAX_TOP}", field="top")
    return top


async def keywords_from_database(session: AsyncSession, principal: Principal, node: MindNode, *,
                                 index: KeywordIndex, top: int) -> list[dict[str, Any]]:
    """jieba TF-IDF of ``node`` against the caller's live nodes."""
    stats = await _stats(session, principal, index)
    terms = index.cached_tokens(node.id, node.version)
    if terms is None:
        terms = await asyncio.to_thread(tokenize, node.content)
        index.remember(node.id, node.version, terms)
    return tfidf(terms, docs=stats.docs, df=stats.df, top=top)


_AI_SYSTEM = (
    "You extract keywords from a mind-map node. Reply with JSON only: an array of objects "
    '{"word": string, "weight": number between 0 and 1}, most important first, at most N items. '
    "Keep words in the language of the text."
)


async def keywords_from_provider(provider: TextProvider, node: MindNode, *, top: int) -> list[dict[str, Any]]:
    """Ask the text provider for the keywords; parse its JSON (or, failing that, a word list)."""
    messages = [
        ChatMessage("system", _AI_SYSTEM.replace("N items", f"{top} items")),
        ChatMessage("user", node.content),
    ]
    try:
        result = await provider.complete(messages, temperature=0.2, max_tokens=512)
    except ProviderError:
        raise
    except Exception as exc:  # noqa: BLE001 - any client failure is an upstream failure to the caller
        raise UpstreamError(f"the text provider failed: {type(exc).__name__}", code="upstream_failed") from exc
    items = parse_keywords(result.text)
    if not items:
        raise UpstreamError("the text provider returned no keywords", code="upstream_failed")
    items.sort(key=lambda item: -item["weight"])
    return items[:top]


def parse_keywords(text: str) -> list[dict[str, Any]]:
    """Accept ``[{"word","weight"}]``, ``{"keywords": [...]}``, ``["w1","w2"]`` or "w1, w2" (model replies vary)."""
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    data: Any
    try:
        data = json.loads(body)
    except ValueError:
        start, end = body.find("["), body.rfind("]")
        try:
            data = json.loads(body[start : end + 1]) if 0 <= start < end else None
        except ValueError:
            data = None
    if isinstance(data, dict):
        data = data.get("keywords") or data.get("items") or []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    if isinstance(data, list):
        n = len(data)
        for i, item in enumerate(data):
            if isinstance(item, dict) and isinstance(item.get("word"), str):
                word, weight = item["word"].strip(), item.get("weight")
            elif isinstance(item, str):
                word, weight = item.strip(), None
            else:
                continue
            if not isinstance(weight, int | float) or isinstance(weight, bool):
                weight = round(1.0 - i / max(n, 1), 4)  # rank order when the model gave no weight
            if word and word not in seen:
                seen.add(word)
                out.append({"word": word, "weight": float(weight)})
        return out
    words = [w.strip() for w in re.split(r"[,，、;\n]+", body) if w.strip()]
    return [{"word": w, "weight": round(1.0 - i / len(words), 4)} for i, w in enumerate(dict.fromkeys(words))]
