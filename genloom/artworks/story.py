"""The writing phase: the child's narration → a short child-friendly story and a prompt for the video model.

The text provider is asked for JSON (``{"story": …, "videoPrompt": …}``). A provider that answers otherwise —
the offline rules provider answers with a tidied, partly translated prompt — still gets a usable result: the
child's own words are the story and the answer is the video prompt. Either way the prompt ends with what keeps
the clip faithful to the drawing (animate it, keep its colours and lines).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from genloom.providers.base import ChatMessage, TextProvider

MAX_STORY_CHARS = 1200
MAX_PROMPT_CHARS = 450  # Seedance recommends prompts of at most ~500 characters, text commands included
FAITHFUL = "animate this child's drawing, keep its colours, lines and characters, gentle camera movement"
SYSTEM = (
    "你是一位温柔的儿童绘本作家。孩子画了一幅画，并讲述了画里的故事。请根据孩子的讲述：\n"
    "1. 写一个适合 3-10 岁儿童的简短故事（中文，不超过 150 字，积极温暖，不添加可怕或不适宜的内容）；\n"
    "2. 写一段用于图生视频模型的英文画面描述（不超过 60 个单词，描述画中角色如何动起来、镜头如何缓慢移动）。\n"
    '只返回 JSON：{"story": "…", "videoPrompt": "…"}'
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Story:
    story: str
    video_prompt: str
    provider: str
    model: str


def parse_answer(answer: str) -> tuple[str | None, str | None]:
    """(story, videoPrompt) from the model's answer when it is the JSON asked for, else (None, None)."""
    text = _FENCE.sub("", answer.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None, None
    try:
        doc = json.loads(text[start : end + 1])
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    story = doc.get("story")
    prompt = doc.get("videoPrompt") or doc.get("video_prompt") or doc.get("prompt")
    return (story.strip() if isinstance(story, str) and story.strip() else None,
            prompt.strip() if isinstance(prompt, str) and prompt.strip() else None)


def video_prompt(prompt: str) -> str:
    prompt = " ".join(prompt.split())
    room = MAX_PROMPT_CHARS - len(FAITHFUL) - 2
    return f"{prompt[:room].rstrip(' ,.')}, {FAITHFUL}" if prompt else FAITHFUL


async def write_story(provider: TextProvider, narration: str, *, title: str | None = None) -> Story:
    user = f"画的名字：{title}\n孩子的讲述：{narration}" if title else narration
    result = await provider.complete([ChatMessage("system", SYSTEM), ChatMessage("user", user)], temperature=0.7,
                                     max_tokens=600)
    story, prompt = parse_answer(result.text)
    if story is None:
        story = narration
    if prompt is None:
        prompt = result.text if not result.text.lstrip().startswith("{") else narration
    return Story(story=story[:MAX_STORY_CHARS], video_prompt=video_prompt(prompt), provider=result.provider,
                 model=result.model)
