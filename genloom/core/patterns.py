"""JSON Schema patterns for rules the server applies to text, spelled so that both regex dialects read them alike.

Python's ``str.strip()`` (what the services use) and ECMA-262's ``\\s`` (what JSON Schema validators use) do not
agree on whitespace, so the characters are listed rather than written as ``\\s``/``\\S``."""

from __future__ import annotations

#: what ``str.isspace()`` is true for
_PY_SPACE = r"\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: text with at least one character ``strip()`` keeps, and no U+0000 (a field given its own pattern states the
#: NUL rule itself: ``system.openapi`` only adds it to strings without one)
VISIBLE_TEXT = rf"^[^\u0000]*[^\u0000{_PY_SPACE}][^\u0000]*$"
