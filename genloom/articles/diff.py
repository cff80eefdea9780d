"""Differences between two versions: unified diff text (what ``diff -u`` prints) and the same as structure.

difflib is quadratic in the worst case on long texts: callers run :func:`diff_versions` in a thread.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

CONTEXT_LINES = 3

Op = Literal["equal", "insert", "delete"]


@dataclass(frozen=True, slots=True)
class DiffLine:
    op: Op
    text: str
    #: 1-based line numbers in the old and new text (None where the line is not on that side)
    old_line: int | None
    new_line: int | None


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    unified: str
    hunks: tuple[Hunk, ...]
    added: int
    removed: int
    title_changed: bool


def _hunk(group: list[tuple[str, int, int, int, int]], a: list[str], b: list[str]) -> Hunk:
    lines: list[DiffLine] = []
    for tag, i1, i2, j1, j2 in group:
        if tag == "equal":
            lines.extend(DiffLine("equal", a[i], i + 1, j1 + (i - i1) + 1) for i in range(i1, i2))
            continue
        if tag in ("replace", "delete"):
            lines.extend(DiffLine("delete", a[i], i + 1, None) for i in range(i1, i2))
        if tag in ("replace", "insert"):
            lines.extend(DiffLine("insert", b[j], None, j + 1) for j in range(j1, j2))
    first, last = group[0], group[-1]
    return Hunk(old_start=first[1] + 1, old_lines=last[2] - first[1],
                new_start=first[3] + 1, new_lines=last[4] - first[3], lines=tuple(lines))


def diff_versions(old_title: str, old: str, new_title: str, new: str, *, old_label: str,
                  new_label: str) -> VersionDiff:
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    hunks = tuple(_hunk(group, a, b) for group in matcher.get_grouped_opcodes(CONTEXT_LINES))
    unified = "\n".join(difflib.unified_diff(a, b, fromfile=old_label, tofile=new_label, n=CONTEXT_LINES,
                                             lineterm=""))
    added = sum(1 for h in hunks for line in h.lines if line.op == "insert")
    removed = sum(1 for h in hunks for line in h.lines if line.op == "delete")
    return VersionDiff(unified=unified + "\n" if unified else "", hunks=hunks, added=added, removed=removed,
                       title_changed=old_title != new_title)


def diff_dict(diff: VersionDiff) -> dict[str, Any]:
    return {
        "unified": diff.unified, "added": diff.added, "removed": diff.removed, "title_changed": diff.title_changed,
        "hunks": [{"old_start": h.old_start, "old_lines": h.old_lines, "new_start": h.new_start,
                   "new_lines": h.new_lines,
                   "lines": [{"op": ln.op, "text": ln.text, "old_line": ln.old_line, "new_line": ln.new_line}
                             for ln in h.lines]} for h in diff.hunks],
    }
