"""Cutting texts to a token budget with the real OpenAI vocabulary and with the estimate: exact limits, cuts
that are true prefixes, suffixes and windows of the text, and articles longer than the tokenizer takes at once."""

from __future__ import annotations

import pytest

from genloom.assistant import context
from genloom.assistant.tokens import ESTIMATE, Counter, counter_for, estimate

MIXED = "人工智能正在改变写作。很多作者用它整理提纲、检查语法。Writers still need their own eyes.\n\n"
COUNTERS = [pytest.param(counter_for("gpt-4o-mini"), id="o200k"), pytest.param(counter_for("gpt-4"), id="cl100k"),
            pytest.param(ESTIMATE, id="estimate")]


@pytest.mark.parametrize("count", COUNTERS)
def test_head_and_tail_are_the_longest_cuts_within_the_limit(count: Counter) -> None:
    text = MIXED * 400
    for limit in (1, 7, 100, 1200):
        head, tail = count.head(text, limit), count.tail(text, limit)
        assert text.startswith(head) and text.endswith(tail)
        assert count(head) <= limit and count(tail) <= limit
        # one more character would not fit (give or take the character a cut token splits)
        assert count(text[: len(head) + 2]) > limit - 1 and count(text[len(text) - len(tail) - 2:]) > limit - 1
    assert count.head("short", 100) == "short" and count.tail("short", 100) == "short"
    assert count.head(text, 0) == "" and count.tail(text, 0) == ""


@pytest.mark.parametrize("count", COUNTERS)
def test_clip_keeps_the_start_or_the_text_around_the_cursor(count: Counter) -> None:
    text = "".join(f"第{i}句话讲一个观点。Sentence {i} makes one point. " for i in range(2000))
    start = context.clip(text, 300, count)
    assert start.endswith("…") and text.startswith(start[:-1]) and count(start) <= 300
    at = text.index("第1000句")
    around = context.clip(text, 300, count, around=at)
    assert around.startswith("…") and around.endswith("…") and count(around) <= 300
    inner = around[1:-1]
    offset = text.index(inner)
    assert offset < at < offset + len(inner)  # the cursor is inside, about halfway
    assert abs((at - offset) - (offset + len(inner) - at)) < len(inner) // 4
    end = context.clip(text, 300, count, around=len(text))  # at the end: all the room goes before it
    assert end.startswith("…") and text.endswith(end[1:]) and count(end) <= 300
    assert context.clip("a short text", 300, count, around=3) == "a short text"


def test_texts_longer_than_the_tokenizer_takes_at_once_are_counted_and_cut() -> None:
    # bpe-openai refuses one input of 1,000,000 characters or of 200,000 tokens; articles may be longer
    count = counter_for("gpt-4o-mini")
    huge = " ".join(f"w{i:06d}" for i in range(150_000))  # 1,049,999 characters, ~450,000 tokens
    assert count(huge) > 200_000
    excerpt = context.clip(huge, 1200, count, around=len(huge) // 2)
    assert count(excerpt) <= 1200 and excerpt[1:-1] in huge
    assert estimate(huge) == ESTIMATE(huge) > 200_000


def test_the_estimate_counts_cjk_characters_one_each_and_other_text_by_four() -> None:
    assert estimate("人工智能") == 4 and estimate("abcdefgh") == 2 and estimate("写作 ok") == 3
    assert not ESTIMATE.exact and counter_for("gpt-4o").exact and counter_for("qwen-plus") is ESTIMATE


def test_history_is_read_only_as_far_as_the_budget_reaches() -> None:
    count = counter_for("gpt-4o-mini")
    limit = context.history_limit(400)
    turns = [context.Turn(seq, "user" if seq % 2 else "assistant", "x") for seq in range(1, limit + 50)]
    planned = context.plan(system="", summary="", summary_through=0, article=None, history=turns[-limit:],
                           user_text="hi", budget=400, count=count)
    kept = len(planned.messages) - 2
    assert 0 < kept < limit  # even one-token turns: the window is within the turns read
    assert planned.to_fold and planned.to_fold[-1].seq < turns[-kept].seq
