"""Media types sniffed from the first bytes of a file (magic numbers), never trusted from a client."""

from __future__ import annotations

import mimetypes

#: bytes to read from the head of a file to sniff its type
SNIFF_BYTES = 64

OCTET_STREAM = "application/octet-stream"

#: file extension to use for a sniffed media type
EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/mp4": "m4a",
    "application/pdf": "pdf",
    "application/json": "json",
    OCTET_STREAM: "bin",
}


def sniff_mime(head: bytes) -> str | None:
    """The media type of ``head`` (the first bytes of a file) from its magic number, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska and WebM share EBML; WebM names its doctype in the header.
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def guess_mime(key: str, head: bytes | None = None) -> str:
    """Sniffed type when the bytes say, else the type of the key's extension, else octet-stream."""
    if head:
        sniffed = sniff_mime(head)
        if sniffed:
            return sniffed
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or OCTET_STREAM


def extension_for(mime: str) -> str:
    """The file extension (without dot) to store ``mime`` under."""
    return EXTENSIONS.get(mime) or (mimetypes.guess_extension(mime) or ".bin").lstrip(".")
