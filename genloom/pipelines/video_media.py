"""Reading a generated video with PyAV: its size and duration, and its first frame as the poster picture.

Providers do not always say how long or how large their clip is (Seedance reports a duration, not a size), so
both are read from the file itself; a file PyAV cannot decode is refused before anything is stored.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import av

from genloom.media.errors import InvalidMedia


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int
    height: int
    duration_ms: int | None
    poster_png: bytes


def _duration_ms(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int | None:
    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base) * 1000)
    if container.duration is not None:
        return round(container.duration / 1000)  # container durations are in microseconds
    return None


def probe_video(data: bytes) -> VideoInfo:
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.video:
                raise InvalidMedia("the provider's file has no video stream", field="video")
            stream = container.streams.video[0]
            duration = _duration_ms(container, stream)
            for frame in container.decode(stream):  # the first decodable frame is the poster
                out = io.BytesIO()
                frame.to_image().save(out, format="PNG")  # type: ignore[no-untyped-call]  # PyAV ships no hints here
                return VideoInfo(width=frame.width, height=frame.height, duration_ms=duration,
                                 poster_png=out.getvalue())
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"the provider's video cannot be decoded: {exc}", field="video") from None
    raise InvalidMedia("the provider's video has no frames", field="video")


async def probe_video_async(data: bytes) -> VideoInfo:
    return await asyncio.to_thread(probe_video, data)
