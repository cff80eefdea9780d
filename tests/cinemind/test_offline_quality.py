"""Offline output a newcomer sees: English prompts without Chinese field labels, a caption wrapped inside the
picture, and jieba's dictionary loaded as the server starts rather than on the first /keywords call."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from genloom.cinemind.prompt import build_prompt
from genloom.providers.local.image import caption_lines
from tests.processes import ROOT


def test_field_labels_are_translated_or_left_out() -> None:
    built = build_prompt({"内容": "一只猫"}, styles=["水彩"])
    assert built.prompt_en == "a cat; Style: watercolor painting"
    assert built.prompt_zh == "内容：一只猫；风格：水彩画"  # the Chinese prompt keeps its labels
    labelled = build_prompt({"主体": "一只猫", "光线": "夕阳", "随便写的字段": "窗边"}, styles=[])
    assert labelled.prompt_en.startswith("Subject: a cat; Lighting: ")
    assert "随便写的字段" not in labelled.prompt_en  # a label the glossary cannot translate is left out


def test_the_caption_wraps_instead_of_running_off_the_picture() -> None:
    fits = lambda text: len(text) <= 20  # noqa: E731
    prompt = "a cyberpunk cat in a neon city at night with rain and reflections everywhere"
    lines = caption_lines(prompt, fits)
    assert lines == ["a cyberpunk cat in a", "neon city at night", "with rain and…"]
    assert all(fits(line) for line in lines)
    assert caption_lines("一只在窗边晒太阳的橘猫", lambda t: len(t) <= 6) == ["一只在窗边晒", "太阳的橘猫"]
    assert caption_lines("short", fits) == ["short"]


def test_jieba_is_loaded_at_start_up_before_any_request(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, jieba
        from genloom.app import create_app
        from genloom.nodes import keywords
        from tests.conftest import make_settings

        async def main():
            settings = make_settings(database_url="sqlite+aiosqlite:///{tmp_path}/g.db", data_dir="{tmp_path}")
            app = create_app(settings)
            assert not jieba.dt.initialized and not keywords.is_warm()
            async with app.router.lifespan_context(app):
                for _ in range(600):
                    if keywords.is_warm():
                        break
                    await asyncio.sleep(0.05)
                print("warm", keywords.is_warm(), jieba.dt.initialized)
        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "warm True True"
