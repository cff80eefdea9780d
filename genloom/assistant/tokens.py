"""Counting tokens the way the model family does, so the context fits the model's window.

OpenAI models: the real BPE (``o200k_base`` for the GPT-4o / 4.1 / 5 / o-series families, ``cl100k_base`` for
GPT-4 and GPT-3.5) from ``bpe-openai``, a tiktoken-compatible tokenizer that ships its vocabularies inside the
package (tiktoken itself downloads them on first use, which an offline server cannot). Other families (Qwen,
Doubao, the offline writer): a documented estimate that errs high — one token per CJK character and one per
four other characters (Qwen's and Doubao's tokenizers spend about 0.6–1 token per Chinese character and 3–4
characters per English token), plus four tokens of framing per chat message as OpenAI's formula counts.

Cutting a text to a number of tokens (:meth:`Counter.head`, :meth:`Counter.tail`) looks only at as much of it as
that many tokens can span, so an excerpt of a 1 MiB article costs what the excerpt costs, not the article.
Texts are encoded in pieces of at most :data:`PIECE_CHARS` characters: ``bpe-openai`` refuses a text of a
million characters or one of more than 200,000 tokens, and an article may be longer than that.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

#: tokens a chat message costs beyond its text (role and separators), per OpenAI's counting guide
PER_MESSAGE = 4
#: the longest piece encoded at once (the BPE refuses inputs over 1,000,000 characters or 200,000 tokens)
PIECE_CHARS = 100_000
#: the most characters one token of either OpenAI vocabulary spans (a run of spaces or dashes)
BPE_MAX_TOKEN_CHARS = 128
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


def estimate(text: str) -> int:
    """The estimate for models without a tokenizer here: CJK characters count one each, the rest one per four."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


class Counter:
    """Counts tokens by the estimate; :class:`BpeCounter` by a real vocabulary. Call it to count a text."""

    exact = False

    def __call__(self, text: str) -> int:
        return estimate(text)

    def head(self, text: str, limit: int) -> str:
        """The longest start of ``text`` within ``limit`` tokens."""
        # every character costs at least a quarter token, so the first 4·limit+4 characters already exceed it
        window = text[: 4 * limit + 4]
        return window[: self._fit(window, limit, from_end=False)]

    def tail(self, text: str, limit: int) -> str:
        """The longest end of ``text`` within ``limit`` tokens."""
        window = text[max(0, len(text) - 4 * limit - 4):]
        width = self._fit(window, limit, from_end=True)
        return window[len(window) - width:] if width else ""

    def _fit(self, window: str, limit: int, *, from_end: bool) -> int:
        lo, hi = 0, len(window)
        while lo < hi:  # the widest span whose estimate fits
            mid = (lo + hi + 1) // 2
            if estimate(window[len(window) - mid:] if from_end else window[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        return lo


class BpeCounter(Counter):
    """Counts and cuts with an OpenAI vocabulary: one encode of the part that matters, cut at a token."""

    exact = True

    def __init__(self, encoding: Any) -> None:
        self.bpe = encoding

    def _encode(self, text: str) -> list[int]:
        tokens: list[int] = []
        for start in range(0, len(text), PIECE_CHARS):
            tokens.extend(self.bpe.encode(text[start:start + PIECE_CHARS], disallowed_special=()))
        return tokens

    def __call__(self, text: str) -> int:
        return len(self._encode(text))

    def _decode(self, tokens: list[int]) -> str:
        # a cut between the tokens of one character leaves partial UTF-8 at the edge: drop it
        return str(self.bpe.decode_bytes(tokens).decode("utf-8", errors="ignore"))

    def head(self, text: str, limit: int) -> str:
        if limit <= 0:
            return ""
        width = 8 * limit + 64
        while True:
            window = text[:width]
            tokens = self._encode(window)
            if len(tokens) > limit:
                return self._shrink(self._decode(tokens[:limit]), limit, from_end=False)
            if width >= len(text) or width >= limit * BPE_MAX_TOKEN_CHARS:
                return window
            width *= 4  # tokens longer than 8 characters on average (runs of spaces): look further

    def tail(self, text: str, limit: int) -> str:
        if limit <= 0:
            return ""
        width = 8 * limit + 64
        while True:
            window = text[max(0, len(text) - width):]
            tokens = self._encode(window)
            if len(tokens) > limit:
                return self._shrink(self._decode(tokens[-limit:]), limit, from_end=True)
            if width >= len(text) or width >= limit * BPE_MAX_TOKEN_CHARS:
                return window
            width *= 4

    def _shrink(self, cut: str, limit: int, *, from_end: bool) -> str:
        """Encoded on its own a cut can merge differently at its edge; drop characters there until it fits."""
        while cut and self(cut) > limit:
            cut = cut[1:] if from_end else cut[:-1]
        return cut


ESTIMATE = Counter()


def encoding_name(model: str) -> str | None:
    """The OpenAI encoding of ``model``, or None for a model of another family."""
    name = model.lower().split("/")[-1]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    if name.startswith(("gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")):
        return "cl100k_base"
    return None


@lru_cache(maxsize=8)
def counter_for(model: str) -> Counter:
    """The counter of ``model``'s tokens (cached: loading a vocabulary takes ~0.1 s; :func:`preload` does it at
    start-up so the first reply does not pay it)."""
    encoding = encoding_name(model)
    if encoding is None:
        return ESTIMATE
    import bpe_openai

    return BpeCounter(bpe_openai.get_encoding(encoding))


def preload(model: str) -> None:
    """Load ``model``'s vocabulary now (and encode once, which builds the tokenizer's caches)."""
    counter_for(model)("warm")


def is_exact(model: str) -> bool:
    """Whether counts for ``model`` come from its real tokenizer (else from :func:`estimate`)."""
    return encoding_name(model) is not None


def message_tokens(count: Counter, content: str) -> int:
    return count(content) + PER_MESSAGE
