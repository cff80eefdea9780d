"""The ids the event hub skipped as gaps, watched for a while in case their transactions commit late.

See :mod:`genloom.events.hub` ("Gaps"): a hole in the id sequence that outlives the hub's wait is skipped,
but a very slow commit may still fill it, so the range is kept here for ``GAP_RECHECK_SECONDS``; the hub
re-reads the ranges now and then and delivers what showed up as late events. A client's resume token names the
ranges below its position (:meth:`SkippedIds.below`), so that another replica can send those ids too.
"""

from __future__ import annotations

import collections
import time

#: how long a skipped id is re-checked in case its transaction commits late
GAP_RECHECK_SECONDS = 120.0
#: ranges watched at most (the oldest go first)
MAX_WATCHED = 200
#: skipped ranges a resume position names at most (the most recent ones: the likeliest to commit late)
MAX_HOLES = 32


class SkippedIds:
    def __init__(self) -> None:
        self._ranges: collections.OrderedDict[tuple[int, int], float] = collections.OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def remember(self, lo: int, hi: int) -> None:
        self._ranges[(lo, hi)] = time.monotonic() + GAP_RECHECK_SECONDS
        while len(self._ranges) > MAX_WATCHED:
            self._ranges.popitem(last=False)

    def watched(self) -> list[tuple[int, int]]:
        """The ranges still watched (those past their recheck time are forgotten first)."""
        now = time.monotonic()
        for key in [k for k, deadline in self._ranges.items() if deadline < now]:
            del self._ranges[key]
        return list(self._ranges)

    def filled(self, lo: int, hi: int) -> None:
        """Every id of the range showed up: stop watching it."""
        self._ranges.pop((lo, hi), None)

    def contains(self, event_id: int) -> bool:
        """Is ``event_id`` inside a range skipped as a gap that is still being watched?"""
        return any(lo <= event_id <= hi for lo, hi in self._ranges)

    def below(self, event_id: int) -> list[tuple[int, int]]:
        """Ranges at or below ``event_id`` still watched (their events may yet commit): what a client that saw
        ``event_id`` must name when it resumes elsewhere (see ``Subscription.resume_token``)."""
        return sorted((lo, min(hi, event_id)) for lo, hi in self._ranges if lo <= event_id)[-MAX_HOLES:]
