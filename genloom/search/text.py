"""Turning text into index terms, the same way for both engines and for queries.

Chinese is segmented with jieba in search mode (``人工智能的发展`` → 人工 智能 人工智能 的 发展), and every Han
character of a word is indexed too, so one- and two-character queries match. Other words are case-folded and
stemmed (Snowball English: ``running`` → ``run``). Engines then only see space-separated terms: FTS5's
``unicode61`` tokenizer and PostgreSQL's ``simple`` configuration need no extension.

jieba loads its dictionary once per process (about a second); segmenting a document is CPU work, so callers
run it in a thread (:func:`segment_document` is thread-safe). A query (at most 200 characters) takes tens of
microseconds once the dictionary is loaded: callers segment it on the event loop when :func:`ready`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import snowballstemmer

#: CJK unified ideographs (basic, extension A, compatibility)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ALNUM_RUN = re.compile(r"[^\W_]+")
#: the body indexed per article: a PostgreSQL tsvector holds at most 1 MB, positions stop at 16,383
MAX_INDEXED_CHARS = 200_000

_init_lock = threading.Lock()
_ready = False
_local = threading.local()


def _jieba() -> object:
    import jieba

    global _ready
    if not _ready:
        with _init_lock:  # jieba builds its prefix dictionary lazily: one thread does it
            if not _ready:
                jieba.setLogLevel(40)
                jieba.initialize()
                _ready = True
    return jieba


def ready() -> bool:
    """Has jieba's dictionary been loaded (so segmenting a short text no longer blocks for a second)?"""
    return _ready


def _stem(word: str) -> str:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # Snowball stemmers keep state between calls: one per thread
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    result: str = stemmer.stemWord(word)
    return result


def is_han(word: str) -> bool:
    return bool(_HAN.search(word))


def _terms_of_word(word: str) -> list[str]:
    word = word.strip().lower()
    if not word:
        return []
    return [part if is_han(part) else _stem(part) for part in _ALNUM_RUN.findall(word)]


def terms(text: str) -> list[str]:
    """Index terms of ``text``: its words (search mode) and then each Han character once per occurrence.
    Repeats are kept: they weigh in the ranking."""
    jieba = _jieba()
    out: list[str] = []
    for word in jieba.cut_for_search(text):  # type: ignore[attr-defined]
        out.extend(_terms_of_word(word))
    out.extend(ch for ch in _HAN.findall(text) if len(ch) == 1)
    return out


def segment_document(title: str, body: str) -> tuple[str, str]:
    """The title and body as the engines index them: space-separated terms."""
    return " ".join(terms(title)), " ".join(terms(body[:MAX_INDEXED_CHARS]))


@dataclass(frozen=True, slots=True)
class QueryGroup:
    """One word of a query: it matches when ``term`` is in the document, or ``parts`` (its Han characters)
    stand side by side in it (a Chinese word that the document's segmentation split differently: the
    per-character terms are indexed in text order, so the word is a phrase of them). Not "every character
    somewhere": for a common word that matched ~40 % of articles (and ranked them all), most of which do not
    contain the word at all. ``surface`` is how it was typed."""

    term: str
    parts: tuple[str, ...]
    surface: str


def query_groups(query: str) -> list[QueryGroup]:
    """The words of a query (jieba exact mode), each as a :class:`QueryGroup`; all must match."""
    jieba = _jieba()
    groups: list[QueryGroup] = []
    seen: set[str] = set()
    for word in jieba.cut(query):  # type: ignore[attr-defined]
        for part in _ALNUM_RUN.findall(word.strip().lower()):
            term = part if is_han(part) else _stem(part)
            if term in seen:
                continue
            seen.add(term)
            chars = tuple(ch for ch in part if _HAN.match(ch)) if is_han(part) and len(part) > 1 else ()
            groups.append(QueryGroup(term=term, parts=chars, surface=part))
    return groups


def fts5_query(groups: list[QueryGroup]) -> str:
    """An FTS5 MATCH expression: every group, each term quoted (no operator can be injected)."""
    def quote(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    clauses = []
    for g in groups:
        if g.parts:  # the word, or its characters side by side (a phrase of the per-character terms)
            clauses.append(f"({quote(g.term)} OR {quote(' '.join(g.parts))})")
        else:
            clauses.append(quote(g.term))
    return " AND ".join(clauses)


def tsquery(groups: list[QueryGroup]) -> str:
    """The same expression as ``to_tsquery('simple', …)`` text, each lexeme quoted."""
    def quote(term: str) -> str:
        return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"

    clauses = []
    for g in groups:
        if g.parts:  # the word, or its characters side by side (a phrase of the per-character terms)
            clauses.append(f"({quote(g.term)} | ({' <-> '.join(quote(p) for p in g.parts)}))")
        else:
            clauses.append(quote(g.term))
    return " & ".join(clauses)
