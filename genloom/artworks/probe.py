"""Durations of committed audio and video with PyAV (a file PyAV cannot open has no duration, not an error:
the bytes already passed the type check, and a phone's recording with an odd header must still be kept)."""

from __future__ import annotations

import asyncio
import io

import av


def duration_ms(data: bytes) -> int | None:
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if container.duration is not None:
                return round(container.duration / 1000)  # microseconds
            for stream in container.streams:
                if stream.duration is not None and stream.time_base is not None:
                    return round(float(stream.duration * stream.time_base) * 1000)
    except (av.error.FFmpegError, ValueError):
        return None
    return None


async def duration_ms_async(data: bytes) -> int | None:
    return await asyncio.to_thread(duration_ms, data)
