"""What one assistant turn sends to the model: system prompt, an excerpt of the linked article, the running
summary of older turns, and as many recent turns as fit the token budget.

Turns that no longer fit are not dropped silently: :func:`plan` lists those not yet summarised, and the caller
folds them into the session's running summary (made by the text provider) before the turn is sent. When
folding is needed it folds down to half the room, so the summary is remade every few turns, not on each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genloom.assistant.tokens import PER_MESSAGE, Counter
from genloom.providers.base import ChatMessage

DEFAULT_SYSTEM = ("You are GenFlow's writing assistant. Help the writer with their article: answer questions, "
                  "suggest improvements, and write in the language the writer uses.")
SUMMARY_SYSTEM = ("You keep a running summary of a conversation between a writer and a writing assistant. "
                  "Merge the earlier summary with the new turns into one short paragraph that keeps every fact, "
                  "decision and open request. Answer with the summary only.")


@dataclass(slots=True)
class Turn:
    seq: int
    role: str
    content: str


@dataclass(slots=True)
class Plan:
    messages: list[ChatMessage]
    #: turns outside the window that the summary does not cover yet (oldest first)
    to_fold: list[Turn] = field(default_factory=list)
    prompt_tokens: int = 0


def clip(text: str, limit: int, count: Counter, *, around: int | None = None) -> str:
    """The longest part of ``text`` within ``limit`` tokens: from the start, or centred on character ``around``
    (a cursor), marked with ``…`` where it was cut."""
    if limit <= 0:
        return ""
    if count(text) <= limit:
        return text
    centre = len(text) if around is None else max(0, min(len(text), around))
    lo, hi = 0, len(text)
    while lo < hi:  # the widest character span whose tokens fit
        mid = (lo + hi + 1) // 2
        if count(_span(text, mid, centre, around is not None)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return _span(text, lo, centre, around is not None)


def _span(text: str, width: int, centre: int, centred: bool) -> str:
    if not centred:
        return text[:width] + ("…" if width < len(text) else "")
    start = max(0, min(centre - width // 2, len(text) - width))
    end = start + width
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


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
