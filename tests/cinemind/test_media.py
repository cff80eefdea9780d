"""The media browser on the local store and on S3 (moto's server): tree, files, file meta, owner filtering,
and path traversal attempts (always 400, never a file outside the media root)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.conftest import drain, make_settings


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    common: dict[str, Any] = {"database_url": database_url, "data_dir": tmp_path, "media_dir": tmp_path / "media",
                              "poll_interval_seconds": 0.05, "event_poll_seconds": 0.05}
    if request.param == "local":
        return make_settings(**common)
    s3: Settings = request.getfixturevalue("s3_settings")
    fields = s3.model_dump(include={"storage", "s3_endpoint", "s3_bucket", "s3_force_path_style", "s3_access_key_id",
                                    "s3_secret_access_key", "s3_region"})
    return make_settings(**common, **fields)


async def _generate(client: httpx.AsyncClient, runtime: Runtime, count: int = 1) -> list[str]:
    r = await client.post("/tasks/generate", json={"主体": "猫", "分辨率": "128x128", "数量": count})
    assert r.status_code == 202, r.text
    await drain(runtime)
    return list(r.json()["data"]["graphIds"])


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for child in node.get("children") or []:
        out += _walk(child)
    return out


async def test_tree_files_and_meta(client: httpx.AsyncClient, runtime: Runtime) -> None:
    empty = (await client.get("/media/tree")).json()["data"]
    assert [c["name"] for c in empty["children"]] == ["images", "thumbs"]
    graph_ids = await _generate(client, runtime, count=2)
    tree = (await client.get("/media/tree")).json()["data"]
    assert tree["type"] == "dir" and tree["path"] == ""
    files = [n for n in _walk(tree) if n["type"] == "file"]
    assert len(files) == 4  # two images, two thumbnails
    for f in files:
        assert f["url"].startswith("/media/") and f["size"] > 0 and f["mime"] in ("image/png", "image/jpeg")
        assert f["path"].split("/")[0] in ("images", "thumbs") and "children" not in f
    image_dir = next(n for n in _walk(tree) if n["type"] == "dir" and n["path"].count("/") == 3
                     and n["path"].startswith("images/"))
    listed = (await client.get("/media/files", params={"dir": image_dir["path"], "size": 1})).json()["data"]
    assert listed["total"] == 2 and len(listed["items"]) == 1 and listed["dir"] == image_dir["path"]
    item = listed["items"][0]
    assert set(item) >= {"name", "path", "url", "size", "mime", "modifiedAt"}
    assert item["name"].removesuffix(".png") in graph_ids
    page2 = (await client.get("/media/files", params={"dir": image_dir["path"] + "/", "size": 1, "page": 2})).json()
    assert page2["data"]["items"][0]["path"] != item["path"]
    body = (await client.get(item["url"]))
    assert body.status_code in (200, 307)  # local serves bytes, S3 redirects to a presigned object URL
    shallow = (await client.get("/media/tree", params={"dir": "images", "depth": 1})).json()["data"]
    assert shallow["path"] == "images" and all(c["type"] == "dir" for c in shallow["children"])
    assert all(c["children"] == [] for c in shallow["children"]) and shallow["children"]
    meta = (await client.get(f"/media/file-meta/{graph_ids[0]}")).json()["data"]
    for key in ("url", "thumbUrl", "mime", "size", "checksum", "width", "height", "generatedAt", "relatedNodes",
                "params", "promptZh", "promptEn"):
        assert key in meta
    assert meta["url"].startswith("/media/images/") and meta["thumbUrl"].startswith("/media/thumbs/")
    assert (meta["width"], meta["height"]) == (128, 128)
    root_files = (await client.get("/media/files")).json()["data"]
    assert root_files["items"] == [] and root_files["total"] == 0
    # images sit in dated folders: dir=images lists none directly, recursive=true lists every one
    assert (await client.get("/media/files", params={"dir": "images"})).json()["data"]["total"] == 0
    deep = (await client.get("/media/files", params={"dir": "images", "recursive": "true"})).json()["data"]
    assert deep["total"] == 2 and {i["name"].removesuffix(".png") for i in deep["items"]} == set(graph_ids)
    assert all(i["path"].startswith("images/") and i["path"].count("/") == 4 for i in deep["items"])
    everything = (await client.get("/media/files", params={"recursive": "true"})).json()["data"]
    assert everything["total"] == 4  # images and thumbnails


async def test_files_of_other_apps_and_owners_stay_hidden(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _generate(client, runtime)
    await runtime.blobs.put("images/2026/01/01/stray.png", b"\x89PNG\r\n\x1a\nnot ours")
    await runtime.blobs.put("clients/c1/artworks/a1/original/v1/file.png", b"\x89PNG\r\n\x1a\nhuaban")
    paths = [n["path"] for n in _walk((await client.get("/media/tree")).json()["data"])]
    assert "images/2026/01/01/stray.png" not in paths and not any(p.startswith("clients") for p in paths)
    assert (await client.get("/media/tree", params={"dir": "clients"})).status_code == 400


TRAVERSALS = ["../", "..", "images/../..", "images/../../etc", "/etc", "/images", "images/%2e%2e", "%2e%2e/",
              "images\\..\\..", "C:/Windows", "images/./2026", "images//2026", "~/x", "images/\x00", "thumbs/.hidden"]


@pytest.mark.parametrize("bad", TRAVERSALS)
async def test_traversal_attempts_are_400(client: httpx.AsyncClient, bad: str) -> None:
    for path in ("/media/tree", "/media/files"):
        r = await client.get(path, params={"dir": bad})
        assert r.status_code == 400, (path, bad, r.text)
        assert r.json()["code"] == 40001 and r.json()["data"]["field"] == "dir"


async def test_encoded_traversal_in_raw_query(client: httpx.AsyncClient) -> None:
    for raw in ("dir=%2e%2e%2f", "dir=images%2f%2e%2e%2f%2e%2e", "dir=%252e%252e"):
        r = await client.get(f"/media/tree?{raw}")
        assert r.status_code == 400, raw


async def test_symlink_out_of_the_root_is_400(client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> None:
    if runtime.settings.storage != "local":
        pytest.skip("symlinks exist only on the local store")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    (runtime.settings.media_root / "images").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, runtime.settings.media_root / "images" / "link")
    for path in ("/media/tree", "/media/files"):
        r = await client.get(path, params={"dir": "images/link"})
        assert r.status_code == 400 and "secret" not in r.text
    tree = (await client.get("/media/tree")).json()["data"]
    assert not any("secret" in n["path"] for n in _walk(tree))
