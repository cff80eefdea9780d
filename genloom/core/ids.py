"""Identifiers: time-ordered UUIDs (version 7 layout), so ids sort by creation and page well."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (millisecond, 12-bit counter) of the previous id


def new_id() -> str:
    """A UUIDv7 string: 48-bit millisecond timestamp, a 12-bit counter, then random bits.

    The counter (RFC 9562 §6.2, method 1) keeps ids made in the same millisecond in creation order, so the
    children of a batch list in the order of their inputs."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, counter = _last
        if ms <= last_ms:
            ms, counter = last_ms, counter + 1
            if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms, counter = ms + 1, 0
        else:
            counter = int.from_bytes(os.urandom(1), "big")  # random start leaves room to count up
        _last = (ms, counter)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= counter << 64
    value |= 0b10 << 62  # variant
    value |= int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
