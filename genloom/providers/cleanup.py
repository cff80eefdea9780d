"""Clean-ups that must reach the provider: cancelling the remote task of a job that was canceled or gave up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def run_to_end(cleanup: Awaitable[None]) -> None:
    """Await ``cleanup`` until it has finished, even if the calling task is cancelled meanwhile; a cancel that
    arrived in between is raised once it is done.

    ``asyncio.shield`` alone keeps the clean-up running but gives up waiting at the first cancel: the caller then
    ends (the worker marks the job canceled, the runtime closes its HTTP clients) while the request is still in
    flight, and the provider may never hear of it. A job is often cancelled twice in a row: its progress callback
    raises JobCanceled, and the worker's cancel poll cancels its task while the clean-up is under way. Clean-ups
    bound their own time (request timeouts) and never raise."""
    task = asyncio.ensure_future(cleanup)
    interrupted = False
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():  # the clean-up itself was cancelled (the loop is closing): nothing left to wait for
                raise
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError
