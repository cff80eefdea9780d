"""What may be uploaded: the media types per upload type, their size caps, and when sniffed bytes agree with
a declared type.

Browsers record voice as ``audio/webm`` (Chrome) or ``audio/mp4`` (Safari); the bytes of both are containers the
sniffer names by container (``video/webm``, ``video/mp4``), so a declared type agrees with the sniffed one when
both name the same container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genloom.core.settings import Settings

UploadType = Literal["original", "audio", "video"]
UPLOAD_TYPES: tuple[UploadType, ...] = ("original", "audio", "video")

ALLOWED_MIMES: dict[UploadType, tuple[str, ...]] = {
    "original": ("image/png", "image/jpeg", "image/webp"),
    "audio": ("audio/wav", "audio/x-wav", "audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/aac", "audio/ogg",
              "audio/webm", "audio/flac"),
    "video": ("video/mp4", "video/quicktime", "video/webm"),
}

#: declared type -> the sniffed types its bytes may have
SNIFFED_AS: dict[str, frozenset[str]] = {
    "image/png": frozenset({"image/png"}),
    "image/jpeg": frozenset({"image/jpeg"}),
    "image/webp": frozenset({"image/webp"}),
    "audio/wav": frozenset({"audio/wav"}),
    "audio/x-wav": frozenset({"audio/wav"}),
    "audio/mpeg": frozenset({"audio/mpeg"}),
    "audio/mp4": frozenset({"audio/mp4", "video/mp4"}),
    "audio/x-m4a": frozenset({"audio/mp4", "video/mp4"}),
    "audio/aac": frozenset({"audio/mp4", "video/mp4"}),
    "audio/ogg": frozenset({"audio/ogg"}),
    "audio/webm": frozenset({"video/webm"}),
    "audio/flac": frozenset({"audio/flac"}),
    "video/mp4": frozenset({"video/mp4"}),
    "video/quicktime": frozenset({"video/quicktime"}),
    "video/webm": frozenset({"video/webm"}),
}

EXTENSIONS: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "audio/wav": "wav", "audio/x-wav": "wav",
    "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/aac": "m4a", "audio/ogg": "ogg",
    "audio/webm": "webm", "audio/flac": "flac", "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
}


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    max_bytes: dict[UploadType, int]
    presign_expires_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadPolicy:
        return cls(
            max_bytes={"original": settings.huaban_max_image_bytes, "audio": settings.huaban_max_audio_bytes,
                       "video": settings.huaban_max_video_bytes},
            # long enough for a phone on a slow network to finish (presigned URLs that expire after a few
            # minutes are a known cause of failed mobile retries), never past the store's own limit
            presign_expires_s=max(900, settings.presign_expires_s),
        )

    def describe(self) -> dict[str, object]:
        return {"max_bytes": dict(self.max_bytes), "allowed_mimes": {t: list(m) for t, m in ALLOWED_MIMES.items()},
                "presign_expires_s": self.presign_expires_s}


def normalise_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def agrees(declared: str, sniffed: str | None) -> bool:
    return sniffed is not None and sniffed in SNIFFED_AS.get(declared, frozenset({declared}))
