"""What one assistant turn sends to the model: system prompt, an excerpt of the linked article, the running
summary of older turns, and as many recent turns as fit the token budget.

Turns that no longer fit are not dropped silently: :func:`plan` lists those not yet summarised, and the caller
folds them into the session's running summary (made by the text provider) before the turn is sent. When
folding is needed it folds down to half the room, so the summary is remade every few turns, not on each one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from genloom.assistant.tokens import PER_MESSAGE, Counter
from genloom.providers.base import ChatMessage

DEFAULT_SYSTEM = ("You are GenFlow's writing assistant. Help the writer with their article: answer questions, "
                  "suggest improvements, and write in the language the writer uses.")
COMPLETE_SYSTEM = ("You are GenFlow's writing assistant, working inside the writer's article. Continue or rewrite the "
                   "text at the cursor as the writer asks, in the article's language and style. Answer with the new "
                   "text only.")
SUMMARY_SYSTEM = ("You keep a running summary of a conversation between a writer and a writing assistant. "
                  "Merge the earlier summary with the new turns into one short paragraph that keeps every fact, "
                  "decision and open request. Answer with the summary only.")


@dataclass(slots=True)
class Turn:
    seq: int
    role: str
    content: str


@dataclass(slots=True)
class Inputs:
    """What one turn's context is made of, read in the transaction that starts the turn."""

    system: str
    summary: str
    #: the last message seq the summary covers
    summary_through: int
    #: the article's title and latest text, or None
    article: tuple[str, str] | None
    #: the newest turns the budget could hold, oldest first (older ones are read only to fold them)
    history: list[Turn]
    #: the writer's turn as sent
    prompt: str
    #: a character offset in the article (a completion): the excerpt is cut around it, else from the start
    cursor: int | None = None


def history_limit(budget: int) -> int:
    """The most turns a budget can hold: each costs its framing and at least one token of text."""
    return budget // (PER_MESSAGE + 1) + 1


@dataclass(slots=True)
class Plan:
    messages: list[ChatMessage]
    #: turns outside the window that the summary does not cover yet (oldest first)
    to_fold: list[Turn] = field(default_factory=list)
    prompt_tokens: int = 0


MARK = "…"


def clip(text: str, limit: int, count: Counter, *, around: int | None = None) -> str:
    """The longest part of ``text`` within ``limit`` tokens: from the start, or around character ``around`` (a
    cursor: half the room before it, the rest after, either side taking what the other leaves), marked with
    ``…`` where it was cut. Only as much of the text as the room can span is ever tokenised."""
    if limit <= 0:
        return ""
    if len(count.head(text, limit)) == len(text):
        return text
    if around is None:
        return _fitted(lambda room: count.head(text, room) + MARK, limit - 1, limit, count)
    centre = max(0, min(len(text), around))
    before, after = text[:centre], text[centre:]

    def build(room: int) -> str:
        left = count.tail(before, room // 2)
        right = count.head(after, room - count(left))
        if len(right) == len(after):  # the text ends soon after the cursor: the rest of the room goes before it
            left = count.tail(before, room - count(right))
        return (MARK if len(left) < len(before) else "") + left + right + (MARK if len(right) < len(after) else "")

    return _fitted(build, limit - 2, limit, count)


def _fitted(build: Callable[[int], str], room: int, limit: int, count: Counter) -> str:
    """``build(room)``, with less room while the pieces joined (and marked) come to more than ``limit``."""
    cut = build(max(0, room))
    while room > 0 and (over := count(cut) - limit) > 0:
        room -= over
        cut = build(max(0, room))
    return cut if count(cut) <= limit else ""


def system_text(system: str, summary: str, article: tuple[str, str] | None) -> str:
    """The one system message: the writer's or default instructions, the summary, then the article (last: the
    offline writer reads the text after ``Article:``)."""
    parts = [system.strip() or DEFAULT_SYSTEM]
    if summary.strip():
        parts.append("Summary of the earlier conversation:\n" + summary.strip())
    if article is not None:
        title, excerpt = article
        parts.append(f"Article: {title}\n{excerpt}")
    return "\n\n".join(parts)


def plan(*, system: str, summary: str, summary_through: int, article: tuple[str, str] | None, history: list[Turn],
         user_text: str, budget: int, count: Counter) -> Plan:
    """The messages of one turn within ``budget`` tokens, and the turns to fold into the summary first."""
    head = system_text(system, summary, article)
    fixed = count(head) + count(user_text) + 2 * PER_MESSAGE
    room = max(0, budget - fixed)
    window: list[Turn] = []
    used = 0
    for turn in reversed(history):
        cost = count(turn.content) + PER_MESSAGE
        if used + cost > room:
            break
        window.append(turn)
        used += cost
    window.reverse()
    first_kept = window[0].seq if window else (history[-1].seq + 1 if history else 0)
    unsummarised = [t for t in history if summary_through < t.seq < first_kept]
    if unsummarised:
        # fold down to half the room so the next few turns fit without another summary call
        half, kept, spent = room // 2, [], 0
        for turn in reversed(window):
            cost = count(turn.content) + PER_MESSAGE
            if spent + cost > half:
                break
            kept.append(turn)
            spent += cost
        kept.reverse()
        boundary = kept[0].seq if kept else history[-1].seq + 1
        unsummarised = [t for t in history if summary_through < t.seq < boundary]
        window, used = kept, spent
    messages = [ChatMessage("system", head), *(ChatMessage(t.role, t.content) for t in window),
                ChatMessage("user", user_text)]
    return Plan(messages=messages, to_fold=unsummarised, prompt_tokens=fixed + used)


def summary_request(summary: str, turns: list[Turn], *, limit_words: int) -> list[ChatMessage]:
    """The chat that asks the text provider to fold ``turns`` into ``summary``."""
    lines = [f"{t.role}: {t.content}" for t in turns]
    earlier = summary.strip() or "(none)"
    return [ChatMessage("system", f"{SUMMARY_SYSTEM} At most {limit_words} words."),
            ChatMessage("user", f"Summarize this conversation.\nEarlier summary: {earlier}\n\nNew turns:\n"
                                + "\n".join(lines))]
