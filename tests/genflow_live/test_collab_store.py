"""The update log: appends keep order, compaction folds rows into one state without changing the document,
and a REST save is rebased onto text edited meanwhile."""

from __future__ import annotations

from pycrdt import Text

from genloom.collab import document, store
from genloom.runtime import Runtime


async def test_compaction_keeps_the_document(runtime: Runtime) -> None:
    doc = document.new_doc()
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    text = doc.get(document.CONTENT, type=Text)
    for i in range(30):
        text.insert(len(text), f"line {i}\n")
    ids = await store.append(runtime.db, "doc-1", updates, "origin-a")
    assert ids == sorted(ids) and len(ids) == 30
    await store.ensure_document(runtime.db, "doc-1", 1)
    await store.ensure_document(runtime.db, "doc-1", 1)  # a second process getting there too is fine
    assert await store.compact(runtime.db, "doc-1") == 30
    assert await store.count(runtime.db, "doc-1") == 0
    stored = await store.load(runtime.db, "doc-1")
    assert stored.rows == 0 and stored.last_id == ids[-1] and len(stored.updates) == 1
    copy = document.new_doc()
    copy.apply_update(stored.updates[0])
    assert document.text_of(copy) == document.text_of(doc)
    # later rows come after the state
    text.insert(0, "head\n")
    await store.append(runtime.db, "doc-1", [updates[-1]], "origin-b")
    assert await store.after(runtime.db, "doc-1", 0, skip_origin="origin-a") != []
    assert await store.after(runtime.db, "doc-1", 0, skip_origin="origin-b") == []


def test_rest_save_is_rebased_onto_edits_made_meanwhile() -> None:
    doc = document.new_doc()
    doc.apply_update(document.seed_update("a", 1, "Title", "one two three"))
    doc.get(document.CONTENT, type=Text).insert(0, "[editor] ")  # not saved yet
    document.apply_save(doc, base_title="Title", base_content="one two three", title="New title",
                        content="one 2 three four")
    assert document.text_of(doc) == "[editor] one 2 three four"
    assert document.title_of(doc) == "New title"
    # the same seed in two processes makes one text
    twice = document.new_doc()
    twice.apply_update(document.seed_update("a", 1, "Title", "one two three"))
    twice.apply_update(document.seed_update("a", 1, "Title", "one two three"))
    assert document.text_of(twice) == "one two three"
