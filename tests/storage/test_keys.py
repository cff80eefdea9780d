from __future__ import annotations

from datetime import UTC, datetime

import pytest

from genloom.storage import keys
from genloom.storage.errors import InvalidKey

WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "key",
    [
        "images/2026/11/23/abc.png",
        "clients/c1/artworks/a1/original/v1/file.jpg",
        "a",
        "x/y=z+w@v/file.tar.gz",
    ],
)
def test_valid_keys(key: str) -> None:
    assert keys.validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "..\\windows",
        "C:/windows/system32",
        "a/%2e%2e/b",
        "%2e%2e/etc/passwd",
        "a%2fb",
        "a\x00b",
        "a\nb",
        "a\x7fb",
        ".hidden",
        "a/.tmp",
        "sp ace",
        "ünïcode",
        "a:b",
        "x" * 513,
        "a/" + "b" * 201,
    ],
)
def test_rejected_keys(key: str) -> None:
    with pytest.raises(InvalidKey) as info:
        keys.validate_key(key)
    assert info.value.status == 400
    assert info.value.code == "invalid_key"
    assert info.value.field == "key"


def test_non_string_key_rejected() -> None:
    with pytest.raises(InvalidKey):
        keys.validate_key(None)


def test_prefix_validation() -> None:
    assert keys.validate_prefix("") == ""
    assert keys.validate_prefix("images/") == "images/"
    assert keys.validate_prefix("images/20") == "images/20"
    for bad in ("/", "../", "a/../", "/images/"):
        with pytest.raises(InvalidKey):
            keys.validate_prefix(bad)


def test_layouts() -> None:
    assert keys.cinemind_image_key("img1", "png", when=WHEN) == "images/2026/11/23/img1.png"
    assert keys.cinemind_thumb_key("img1", ".JPG", when=WHEN) == "thumbs/2026/11/23/img1_thumb.jpg"
    assert keys.huaban_key("client-9", "art_1", "original", 3, "webp") == "clients/client-9/artworks/art_1/original/v3/file.webp"
    assert keys.job_asset_key("job-1", "asset-2", "png", when=WHEN) == "jobs/2026/11/23/job-1/asset-2.png"
    for key in (keys.cinemind_image_key("a", "png"), keys.job_asset_key("j", "a", "png")):
        assert keys.is_valid_key(key)


@pytest.mark.parametrize(
    "call",
    [
        lambda: keys.cinemind_image_key("../x", "png"),
        lambda: keys.cinemind_image_key("a/b", "png"),
        lambda: keys.cinemind_image_key("a", "p/ng"),
        lambda: keys.huaban_key("c", "a", "original", 0, "png"),
        lambda: keys.huaban_key("c", "..", "original", 1, "png"),
        lambda: keys.job_asset_key("", "a", "png"),
    ],
)
def test_layouts_refuse_bad_parts(call) -> None:
    with pytest.raises(InvalidKey):
        call()
