"""The OpenAPI document tells the truth about HuaBan: every route is there under the HuaBan tag, with request
and response examples, and errors documented in HuaBan's own shape and media type."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

ROUTES = [
    ("post", "/init"), ("post", "/upload/presign"), ("post", "/media/commit"), ("post", "/media/upload"),
    ("get", "/images"), ("post", "/artworks"), ("get", "/artworks/{artwork_id}"), ("patch", "/artworks/{artwork_id}"),
    ("delete", "/artworks/{artwork_id}"), ("get", "/gallery"), ("post", "/generation/jobs"),
    ("get", "/generation/jobs/{job_id}"), ("post", "/generation/jobs/{job_id}/retry"),
    ("post", "/generation/jobs/{job_id}/capture"), ("get", "/ai/analyses/{artwork_id}"),
    ("post", "/ai/analyses/{artwork_id}"), ("get", "/grow/profile"), ("post", "/grow/profile"),
    ("get", "/grow/report"),
]


def _inlined(doc: dict[str, Any], node: Any, depth: int = 0) -> str:
    text = json.dumps(node, ensure_ascii=False)
    if depth > 3:
        return text
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        text += _inlined(doc, doc["components"]["schemas"][ref], depth + 1)
    return text


async def test_every_route_is_documented_with_examples(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for method, path in ROUTES:
        operation = doc["paths"][path][method]
        assert "HuaBan" in operation["tags"], path
        if "requestBody" in operation:
            assert "example" in _inlined(doc, operation["requestBody"]), (method, path)
        for status, response in operation["responses"].items():
            if status == "204":
                continue
            assert "example" in _inlined(doc, response), (method, path, status)
            if status.startswith("4"):
                content = response["content"]
                assert list(content) == ["application/json"], (method, path, status)
                assert content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1] in ("ErrorResponse",
                                                                                          "HuabanError")
    healthz = doc["paths"]["/healthz"]["get"]
    assert {"200", "503"} <= set(healthz["responses"])
