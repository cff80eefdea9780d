"""Highlighted snippets: a window of the original text around the first hit, HTML-escaped, hits in <mark>.

Built from the stored text rather than the index (which holds segmented terms, not what the author wrote).
English query words match their inflections (``run`` marks ``running``) through a prefix of their stem.
"""

from __future__ import annotations

import html
import re

from genloom.search.text import QueryGroup, is_han

SNIPPET_CHARS = 160
LEAD_CHARS = 40


def hit_pattern(groups: list[QueryGroup]) -> re.Pattern[str] | None:
    """One regex for every hit form of the query (longest first, so 人工智能 wins over 人工)."""
    forms: set[str] = set()
    for g in groups:
        if is_han(g.surface):
            forms.add(re.escape(g.surface))
            forms.update(re.escape(p) for p in g.parts)
        else:
            forms.add(r"\b" + re.escape(g.surface) + r"\b")
            forms.add(r"\b" + re.escape(g.term) + r"\w*")
    if not forms:
        return None
    return re.compile("|".join(sorted(forms, key=len, reverse=True)), re.IGNORECASE)


def snippet(text: str, pattern: re.Pattern[str] | None, *, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around its first hit, escaped, hits wrapped in <mark>."""
    first = pattern.search(text) if pattern is not None else None
    start = max(0, first.start() - LEAD_CHARS) if first is not None else 0
    window = text[start:start + width]
    out: list[str] = ["…" if start > 0 else ""]
    pos = 0
    if pattern is not None:
        for m in pattern.finditer(window):
            out.append(html.escape(window[pos:m.start()]))
            out.append(f"<mark>{html.escape(m.group())}</mark>")
            pos = m.end()
    out.append(html.escape(window[pos:]))
    if start + width < len(text):
        out.append("…")
    # adjacent hits (机器 + 学习, typed as one word) read as one highlight
    return "".join(out).replace("</mark><mark>", "").replace("\n", " ")
