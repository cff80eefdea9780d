"""Chinese-key briefs: each control key's validation error names the key; nothing is queued on a bad brief."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from genloom.cinemind.prompt import StyleRules, build_prompt
from genloom.cinemind.request import parse_brief, size_for_ratio
from genloom.jobs.models import Job
from genloom.runtime import Runtime

BAD_BRIEFS: list[tuple[dict[str, Any], str]] = [
    ({"主体": "猫", "比例": "16-9"}, "比例"),
    ({"主体": "猫", "比例": "0:9"}, "比例"),
    ({"主体": "猫", "比例": 169}, "比例"),
    ({"主体": "猫", "分辨率": "1024"}, "分辨率"),
    ({"主体": "猫", "分辨率": "1020x768"}, "分辨率"),  # not a multiple of 8
    ({"主体": "猫", "分辨率": "4096x4096"}, "分辨率"),
    ({"主体": "猫", "分辨率": "32x32"}, "分辨率"),
    ({"主体": "猫", "比例": "16:9", "分辨率": "1024x1024"}, "分辨率"),  # disagree
    ({"主体": "猫", "数量": 0}, "数量"),
    ({"主体": "猫", "数量": 5}, "数量"),
    ({"主体": "猫", "数量": "两张"}, "数量"),
    ({"主体": "猫", "数量": True}, "数量"),
    ({"主体": "猫", "种子": -1}, "种子"),
    ({"主体": "猫", "种子": 2**32}, "种子"),
    ({"主体": "猫", "种子": 1.5}, "种子"),
    ({"主体": "猫", "风格": {"a": 1}}, "风格"),
    ({"主体": "猫", "负面提示": ["ok", {"x": 1}]}, "负面提示"),
    ({"主体": "猫", "关联节点": "abc"}, "关联节点"),
    ({"主体": "猫", "关联节点": [1, 2]}, "关联节点"),
    ({"主体": "猫", "关联节点": ["0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"]}, "关联节点"),  # unknown node
    ({"主体": "猫", "模型": ""}, "模型"),
    ({"主体": "猫", "模型": "ark/seedream"}, "模型"),  # a provider this server does not use
    ({"主体": {"nested": True}}, "主体"),
    ({"比例": "1:1"}, "prompt"),  # no content at all
    ({"prompts": "hello"}, "prompts"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BRIEFS)
async def test_each_bad_key_is_named(client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], field: str) -> None:
    for path in ("/tasks/generate", "/generate"):
        r = await client.post(path, json=body)
        assert r.status_code == 400, (body, r.text)
        payload = r.json()
        assert payload["code"] == 40001 and payload["data"]["field"] == field and payload["message"]
    async with runtime.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Job))).scalar_one() == 0


async def test_body_must_be_an_object(client: httpx.AsyncClient) -> None:
    r = await client.post("/tasks/generate", json=["主体"])
    assert r.status_code == 400 and r.json()["code"] == 40001


async def test_deleted_related_node_is_refused(client: httpx.AsyncClient) -> None:
    node_id = (await client.post("/nodes", json={"content": "猫"})).json()["data"]["id"]
    await client.delete(f"/nodes/{node_id}")
    r = await client.post("/tasks/generate", json={"主体": "猫", "关联节点": [node_id]})
    assert r.status_code == 400
    assert r.json()["data"]["field"] == "关联节点" and r.json()["data"]["missing"] == [node_id]


def test_size_rules() -> None:
    assert parse_brief({"主体": "猫"}).width == 1024
    assert size_for_ratio(16, 9) == (1024, 576)
    assert size_for_ratio(9, 16) == (576, 1024)
    assert size_for_ratio(4, 3) == (1024, 768)
    brief = parse_brief({"主体": "猫", "比例": "3：2", "分辨率": "768×512"})  # full-width colon, × sign
    assert (brief.width, brief.height, brief.ratio) == (768, 512, "3:2")
    alone = parse_brief({"主体": "猫", "分辨率": "640x480", "数量": "3", "模型": "local/rules"})
    assert (alone.width, alone.height, alone.count, alone.provider, alone.model) == (640, 480, 3, "local", "rules")


def test_prompt_builder_structures_filters_and_translates() -> None:
    brief = parse_brief({"主体": "雨夜的霓虹街道，一位撑伞的少女", "场景": "赛博朋克城市，宫崎骏风格",
                         "风格": ["电影感", "动漫, 迪士尼"], "负面提示": "模糊"})
    built = build_prompt(brief.fields, styles=brief.styles, negative=brief.negative)
    assert built.prompt_zh.startswith("主体：雨夜的霓虹街道，一位撑伞的少女；场景：赛博朋克城市")
    assert "宫崎骏" not in built.prompt_zh and "迪士尼" not in built.prompt_zh
    assert built.filtered == ["宫崎骏", "迪士尼"]
    assert built.style_hints == ["电影感", "日系动漫", "赛博朋克"]  # aliases normalised, styles found in the text
    assert built.prompt_en.startswith("Subject: rainy night neon street")
    assert "Scene: cyberpunk city" in built.prompt_en and "Japanese anime style" in built.prompt_en
    assert built.negative_prompt == "模糊"


def test_style_rules_are_configurable(tmp_path: Any) -> None:
    from genloom.cinemind.prompt import style_rules

    path = tmp_path / "rules.json"
    path.write_text('{"banned": ["油画"], "aliases": {"漫画": "美式漫画"}}', encoding="utf-8")
    rules = style_rules(path)
    built = build_prompt({"主体": "猫"}, styles=["油画", "漫画"], rules=rules)
    assert built.style_hints == ["美式漫画"] and built.filtered == ["油画"]
    assert isinstance(style_rules(None), StyleRules)


def test_frontend_fields() -> None:
    brief = parse_brief({"prompt": "一只猫", "prompts": {"zh": "在窗边", "en": "a cat by the window"}})
    built = build_prompt(brief.fields, styles=brief.styles, lead=brief.lead, english=brief.english)
    assert built.prompt_zh == "一只猫；在窗边" and built.prompt_en == "a cat by the window"
