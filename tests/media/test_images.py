from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from genloom.media import images
from genloom.media.errors import InvalidMedia, MediaTooLarge
from genloom.storage.mime import extension_for, guess_mime, sniff_mime
from tests.media.factories import jpeg, png


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"%PDF-1.7", "application/pdf"),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, mime: str | None) -> None:
    assert sniff_mime(head) == mime


def test_guess_prefers_bytes_over_extension() -> None:
    assert guess_mime("evil.html", b"\x89PNG\r\n\x1a\n") == "image/png"
    assert guess_mime("notes.txt", b"plain words") == "text/plain"
    assert guess_mime("blob", b"???") == "application/octet-stream"
    assert extension_for("image/jpeg") == "jpg" and extension_for("video/mp4") == "mp4"


def test_probe_png() -> None:
    data = png(120, 80)
    info = images.probe(data)
    assert (info.mime, info.width, info.height, info.size) == ("image/png", 120, 80, len(data))
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_probe_non_image_and_corrupt() -> None:
    info = images.probe(b"just some text")
    assert info.mime == "application/octet-stream" and info.width is None
    broken = png(50, 50)[:60]
    with pytest.raises(InvalidMedia):
        images.probe(broken)


def test_probe_reports_displayed_size_for_rotated_jpeg() -> None:
    info = images.probe(jpeg(200, 100, orientation=6))
    assert (info.width, info.height) == (100, 200)


def test_decompression_bomb_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 MP, tiny file
    with pytest.raises(MediaTooLarge) as info:
        images.probe(out.getvalue())
    assert info.value.code == "image_too_large" and info.value.status == 400
    with pytest.raises(MediaTooLarge):
        images.thumbnail(out.getvalue())


def test_thumbnail_longest_side_and_aspect() -> None:
    thumb = images.thumbnail(png(1000, 500))
    assert (thumb.width, thumb.height, thumb.mime) == (320, 160, "image/jpeg")
    with Image.open(io.BytesIO(thumb.data)) as im:
        assert im.size == (320, 160) and im.format == "JPEG"
    portrait = images.thumbnail(png(300, 900))
    assert (portrait.width, portrait.height) == (107, 320)


def test_thumbnail_never_upscales_and_keeps_alpha() -> None:
    small = images.thumbnail(png(100, 50, (1, 2, 3, 128), mode="RGBA"))
    assert (small.width, small.height, small.mime) == (100, 50, "image/png")
    with Image.open(io.BytesIO(small.data)) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 128


def test_thumbnail_applies_exif_orientation() -> None:
    thumb = images.thumbnail(jpeg(640, 320, orientation=6))
    assert (thumb.width, thumb.height) == (160, 320)


async def test_async_wrappers() -> None:
    info = await images.probe_async(png(10, 10))
    thumb = await images.thumbnail_async(png(10, 10))
    assert info.width == 10 and thumb.width == 10
