"""Counting tokens the way the model family does, so the context fits the model's window.

OpenAI models: the real BPE (``o200k_base`` for the GPT-4o / 4.1 / 5 / o-series families, ``cl100k_base`` for
GPT-4 and GPT-3.5) from ``bpe-openai``, a tiktoken-compatible tokenizer that ships its vocabularies inside the
package (tiktoken itself downloads them on first use, which an offline server cannot). Other families (Qwen,
Doubao, the offline writer): a documented estimate that errs high — one token per CJK character and one per
four other characters (Qwen's and Doubao's tokenizers spend about 0.6–1 token per Chinese character and 3–4
characters per English token), plus four tokens of framing per chat message as OpenAI's formula counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

#: tokens a chat message costs beyond its text (role and separators), per OpenAI's counting guide
PER_MESSAGE = 4
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")

Counter = Callable[[str], int]


def estimate(text: str) -> int:
    """The estimate for models without a tokenizer here: CJK characters count one each, the rest one per four."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


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
    """A function counting ``model``'s tokens in a text (cached: loading a vocabulary takes ~0.1 s)."""
    encoding = encoding_name(model)
    if encoding is None:
        return estimate
    import bpe_openai

    bpe = bpe_openai.get_encoding(encoding)

    def count(text: str) -> int:
        return len(bpe.encode(text, disallowed_special=()))

    return count


def is_exact(model: str) -> bool:
    """Whether counts for ``model`` come from its real tokenizer (else from :func:`estimate`)."""
    return encoding_name(model) is not None


def message_tokens(count: Counter, content: str) -> int:
    return count(content) + PER_MESSAGE
