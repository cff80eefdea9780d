"""Awaiting work that must finish even when the awaiting task is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def run_to_end(work: Awaitable[T]) -> T:
    """Await ``work`` until it has finished, even if the calling task is cancelled meanwhile; a cancel that
    arrived in between is raised once it is done (the result, or the work's own error, is dropped).

    ``asyncio.shield`` alone keeps the work running but gives up waiting at the first cancel, and a task is often
    cancelled twice in a row (a job's progress callback raises JobCanceled, then the worker's cancel poll cancels
    its task). Two kinds of work need this: clean-ups that must reach the provider (cancelling a remote task)
    and writes that run in a thread (an S3 ``put`` goes on after a cancel: its caller must not delete the key
    before the bytes land, or the object outlives its clean-up). The work bounds its own time (request
    timeouts)."""
    task = asyncio.ensure_future(work)
    interrupted = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():  # the work itself was cancelled (the loop is closing): nothing left to wait for
                raise
            interrupted = True
        except BaseException as exc:
            if interrupted:  # the cancel still wins: the caller was told to stop, not that the work failed
                raise asyncio.CancelledError from exc
            raise
    if interrupted:
        raise asyncio.CancelledError
    return result
