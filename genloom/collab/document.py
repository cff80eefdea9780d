"""The shared document of an article: ``Y.Text`` ``content`` (the markdown body) and ``Y.Map`` ``meta``
(``title``), and the two ways text enters it from outside the editors: the first seed, and a REST save.

The seed is made with a client id derived from the article and version, so two processes that seed the same
document at once write the same Yjs items and their updates merge into one text, never two copies.
A REST save is rebased: its changes (old text → new text) are mapped onto the document's current text and
applied as ordinary edits, so edits not yet saved are kept too.
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Callable
from typing import Any

from pycrdt import Doc, Map, Text

CONTENT, META, TITLE = "content", "meta", "title"


def seed_client_id(doc_id: str, version: int) -> int:
    return zlib.crc32(f"{doc_id}:{version}".encode()) or 1


def new_doc(client_id: int | None = None) -> Doc[Any]:
    doc: Doc[Any] = Doc(client_id=client_id) if client_id is not None else Doc()
    doc[CONTENT] = Text()
    doc[META] = Map()
    return doc


def text_of(doc: Doc[Any]) -> str:
    return str(doc.get(CONTENT, type=Text))


def title_of(doc: Doc[Any]) -> str:
    value = doc.get(META, type=Map).get(TITLE)
    return value if isinstance(value, str) else ""


def seed_update(doc_id: str, version: int, title: str, content: str) -> bytes:
    """The update that writes ``title`` and ``content`` into an empty document, identical in every process."""
    doc = new_doc(seed_client_id(doc_id, version))
    with doc.transaction():
        doc.get(CONTENT, type=Text).insert(0, content)
        doc.get(META, type=Map)[TITLE] = title
    return doc.get_update()


Edit = tuple[int, int, str]  # (position, characters deleted, text inserted)


def _position_map(base: str, current: str) -> Callable[[int], int]:
    """Where each position of ``base`` is now in ``current`` (inside a changed stretch: at its start)."""
    blocks = difflib.SequenceMatcher(None, base, current, autojunk=False).get_opcodes()

    def where(pos: int) -> int:
        for tag, i1, i2, j1, _j2 in blocks:
            if i1 <= pos < i2:
                return j1 + (pos - i1) if tag == "equal" else j1
        return len(current)

    return where


def rebase(base: str, new: str, current: str) -> list[Edit]:
    """The edits that take ``base`` to ``new``, placed on ``current`` (``base`` plus others' edits), last first
    so each position is still valid when it is applied."""
    where = _position_map(base, current)
    edits: list[Edit] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, base, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        start, end = where(i1), (where(i2) if i2 < len(base) else len(current))
        edits.append((start, max(0, end - start) if tag != "insert" else 0, new[j1:j2]))
    edits.sort(key=lambda e: e[0], reverse=True)
    return edits


def apply_save(doc: Doc[Any], *, base_title: str, base_content: str, title: str, content: str) -> None:
    """A REST save (``base`` → new) applied to the document as edits, keeping edits made meanwhile."""
    text = doc.get(CONTENT, type=Text)
    current = str(text)
    with doc.transaction(origin="rest"):
        if current == base_content:
            edits = rebase(current, content, current)
        else:
            edits = rebase(base_content, content, current)
        for position, deleted, inserted in edits:
            if deleted:
                del text[position:position + deleted]
            if inserted:
                text.insert(position, inserted)
        if title != base_title or title_of(doc) != title:
            doc.get(META, type=Map)[TITLE] = title
