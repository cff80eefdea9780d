"""The prompt builder: Chinese content fields → a structured Chinese prompt, an English one, and style hints.

Content fields keep the client's order and keys (``主体：…；场景：…``). Style words pass through a filter of
*banned* terms (dropped, reported in ``filtered``) and *aliases* (normalised to one canonical Chinese term, so
"动漫", "二次元" and "anime" all become 日系动漫). Both lists have built-in defaults and can be replaced by a JSON
file named in ``GENLOOM_CINEMIND_STYLE_RULES`` (``{"banned": [...], "aliases": {"term": "canonical"}}``).

Offline the English prompt is built by rule (key names and the known words of the built-in glossary translated,
other text kept as written); with a remote text provider the generation pipeline asks it for a better one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from genloom.core.errors import InvalidInput
from genloom.providers.local.text import compose

_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
#: banned style terms: imitation of living artists' or studios' trademark styles, and unsafe content words
DEFAULT_BANNED: tuple[str, ...] = (
    "宫崎骏", "新海诚", "迪士尼", "皮克斯", "吉卜力", "ghibli", "disney", "pixar",
    "nsfw", "裸露", "色情", "血腥", "暴力", "gore",
)

#: alias -> canonical Chinese style term
DEFAULT_ALIASES: dict[str, str] = {
    "动漫": "日系动漫", "二次元": "日系动漫", "anime": "日系动漫", "日漫": "日系动漫",
    "写实": "写实摄影", "照片级": "写实摄影", "真实感": "写实摄影", "photorealistic": "写实摄影", "realistic": "写实摄影",
    "电影": "电影感", "电影质感": "电影感", "cinematic": "电影感",
    "水墨": "水墨画", "国风水墨": "水墨画", "ink": "水墨画",
    "cyberpunk": "赛博朋克", "赛博": "赛博朋克",
    "水彩": "水彩画", "watercolor": "水彩画",
    "油彩": "油画", "oil painting": "油画",
    "像素": "像素风", "pixel": "像素风", "pixel art": "像素风",
    "3d": "3D渲染", "三维": "3D渲染", "c4d": "3D渲染",
}

#: canonical style terms the builder recognises inside free text (besides the aliases above)
KNOWN_STYLES: tuple[str, ...] = (
    "日系动漫", "写实摄影", "电影感", "水墨画", "赛博朋克", "蒸汽朋克", "水彩画", "油画", "像素风", "3D渲染",
    "素描", "版画", "剪纸", "浮世绘", "印象派", "超现实", "极简", "复古", "奇幻", "科幻", "童话", "国画", "工笔",
    "插画", "绘本", "低多边形", "黏土", "哥特", "未来主义", "波普艺术",
)

#: English names of common content keys (the offline English prompt keeps the structure)
KEY_NAMES: dict[str, str] = {
    "主体": "Subject", "主题": "Theme", "人物": "Character", "角色": "Character", "场景": "Scene",
    "环境": "Environment", "背景": "Background", "动作": "Action", "表情": "Expression", "服装": "Costume",
    "道具": "Props", "光线": "Lighting", "光影": "Lighting", "色调": "Color palette", "颜色": "Colors",
    "氛围": "Mood", "情绪": "Mood", "时间": "Time", "地点": "Location", "天气": "Weather", "镜头": "Camera",
    "景别": "Shot size", "构图": "Composition", "视角": "Viewpoint", "细节": "Details", "描述": "Description",
    "故事": "Story",
}

#: field names that only say "here is the text": the English prompt gives their value without a label
#: ("内容: a cat" would only be noise to an English-reading image model)
UNLABELLED_KEYS = frozenset({"内容", "描述", "画面", "提示词", "提示", "正文", "文本", "说明", "要求", "备注", "prompt"})


#: English for the canonical style terms the glossary lacks or words differently
STYLE_EN: dict[str, str] = {
    "日系动漫": "Japanese anime style", "写实摄影": "photorealistic photography", "电影感": "cinematic",
    "水墨画": "Chinese ink wash painting", "3D渲染": "3D render", "像素风": "pixel art",
}


@dataclass(frozen=True, slots=True)
class StyleRules:
    banned: tuple[str, ...] = DEFAULT_BANNED
    aliases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))

    def canonical(self, term: str) -> str:
        return self.aliases.get(term.strip().lower(), self.aliases.get(term.strip(), term.strip()))

    def is_banned(self, term: str) -> bool:
        low = term.lower()
        return any(b.lower() in low for b in self.banned)


@lru_cache(maxsize=8)
def _load_rules(path: str) -> StyleRules:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the style rules file {path} cannot be read: {exc}", field="GENLOOM_CINEMIND_STYLE_RULES",
                           status=500) from None
    banned = tuple(str(t) for t in raw.get("banned", DEFAULT_BANNED))
    aliases = {str(k).lower(): str(v) for k, v in dict(raw.get("aliases", DEFAULT_ALIASES)).items()}
    return StyleRules(banned=banned, aliases=aliases)


def style_rules(path: Path | str | None) -> StyleRules:
    """The configured rules (a JSON file) or the built-in defaults."""
    return _load_rules(str(path)) if path else StyleRules(aliases={k.lower(): v for k, v in DEFAULT_ALIASES.items()})


@dataclass(slots=True)
class BuiltPrompt:
    prompt_zh: str
    prompt_en: str
    style_hints: list[str]
    #: banned terms removed from the style or the content
    filtered: list[str]
    negative_prompt: str


def _english_field(key: str, value: str) -> str:
    """``Subject: a cat`` for a field name the glossary knows; just ``a cat`` for one that means nothing in
    English (``内容``) or that it cannot translate (a label left in Chinese helps no English reader)."""
    if key in UNLABELLED_KEYS or key.lower() in UNLABELLED_KEYS:
        return value
    label = KEY_NAMES.get(key) or compose(key)
    if not label or _CJK_CHAR.search(label):
        return value
    return f"{label}: {value}"


def _split_terms(value: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,，、;；/|\n]+", value) if t.strip()]


def _strip_banned(text: str, rules: StyleRules, removed: list[str]) -> str:
    for term in rules.banned:
        # "宫崎骏风格" goes as a whole, not leaving a dangling "风格"
        pattern = re.compile(re.escape(term) + r"\s*(?:的)?(?:风格|画风|式|style)?", re.IGNORECASE)
        if pattern.search(text):
            removed.append(term)
            text = pattern.sub("", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ，,、；;")


def build_prompt(
    fields: dict[str, str],
    *,
    styles: list[str],
    negative: str = "",
    lead: str = "",
    english: str = "",
    rules: StyleRules | None = None,
) -> BuiltPrompt:
    """Assemble the prompts. ``lead`` is free text (the frontend's ``prompt``/``prompts.zh``); ``english`` a
    client-supplied English prompt, used as is (after the same filter)."""
    rules = rules or StyleRules()
    removed: list[str] = []
    hints: list[str] = []
    for raw in styles:
        for term in _split_terms(raw):
            if rules.is_banned(term):
                removed.append(term)
                continue
            canonical = rules.canonical(term)
            if canonical and canonical not in hints:
                hints.append(canonical)
    parts: list[str] = []
    en_parts: list[str] = []
    clean_lead = _strip_banned(lead, rules, removed) if lead else ""
    if clean_lead:
        parts.append(clean_lead)
        en_parts.append(compose(clean_lead))
    for key, value in fields.items():
        clean = _strip_banned(value, rules, removed)
        if not clean:
            continue
        parts.append(f"{key}：{clean}")
        en_parts.append(_english_field(key, compose(clean)))
    text_all = " ".join([clean_lead, *fields.values()])
    for known in (*KNOWN_STYLES, *rules.aliases):
        if known in text_all.lower() or known in text_all:
            canonical = rules.canonical(known)
            if canonical not in hints and not rules.is_banned(canonical):
                hints.append(canonical)
    if hints:
        parts.append("风格：" + "、".join(hints))
        en_parts.append("Style: " + ", ".join(STYLE_EN.get(h) or compose(h) for h in hints))
    prompt_zh = "；".join(parts)
    if not prompt_zh:
        raise InvalidInput("the brief has no content: add a content field (e.g. 主体) or prompt", field="prompt")
    prompt_en = _strip_banned(english, rules, removed) if english else "; ".join(p for p in en_parts if p)
    clean_negative = negative.strip()
    return BuiltPrompt(prompt_zh=prompt_zh, prompt_en=prompt_en, style_hints=hints,
                       filtered=sorted(set(removed)), negative_prompt=clean_negative)


def describe(built: BuiltPrompt) -> dict[str, Any]:
    return {"promptZh": built.prompt_zh, "promptEn": built.prompt_en, "styleHints": built.style_hints,
            "filtered": built.filtered}
