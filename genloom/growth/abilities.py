"""Turning a vision provider's answer into HuaBan's analysis: six abilities (0–100), tags, boxes, a summary.

Remote vision models (Doubao vision on Ark, Qwen-VL, OpenAI) are asked for exactly that shape (:data:`INSTRUCTION`,
:data:`SCHEMA_HINT`); whatever they leave out is filled from what they did give. The offline provider measures
the drawing instead (palette, colour variety, edges, balance…, see providers/local/vision.py); its four scores
map onto four abilities, and the other two are measured here:

- ``lineControl`` — clear, confident lines: contrast, and an edge density near that of a finished line drawing
  (too few edges is a faint sketch, far too many is scribble);
- ``storytelling`` — how much the child told about the picture: the length of the narration (characters for
  Chinese, words otherwise), 0 when nothing was told.

The scores are developmental indicators for a parent, never a diagnosis; the wording of summaries says so.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass, field
from typing import Any

ABILITIES = ("color", "composition", "imagination", "detail", "lineControl", "storytelling")
ALIASES = {"creativity": "imagination", "line_control": "lineControl", "linecontrol": "lineControl",
           "story": "storytelling", "colour": "color", "story_telling": "storytelling"}
INSTRUCTION = (
    "你是一位温和的儿童美术老师，正在看一个孩子的画。请只返回 JSON：评估 color（色彩）、composition（构图）、"
    "imagination（想象力）、detail（细节）、lineControl（线条控制）、storytelling（画面叙事）六项能力，各 0-100 的整数；"
    "tags 为 3-8 个描述画面内容的中文短词；boxes 为画中主要物体的位置（label 与 0-1 之间的 x、y、w、h 及 score）；"
    "summary 为一两句鼓励性的中文评语（这是成长参考，不是诊断）。"
)
SCHEMA_HINT: dict[str, Any] = {
    "abilities": {name: "int 0-100" for name in ABILITIES},
    "tags": ["str"],
    "boxes": [{"label": "str", "x": "float 0-1", "y": "float 0-1", "w": "float 0-1", "h": "float 0-1",
               "score": "float 0-1"}],
    "summary": "str",
}
_CJK = re.compile(r"[\u3400-\u9fff]")
COLOUR_NAMES = ((15, "红色"), (45, "橙色"), (70, "黄色"), (160, "绿色"), (200, "青色"), (260, "蓝色"), (300, "紫色"),
                (345, "粉色"), (360, "红色"))


@dataclass(slots=True)
class Reading:
    abilities: dict[str, int]
    tags: list[str] = field(default_factory=list)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    summary: str | None = None


def _score(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(0, min(100, round(float(value))))


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def storytelling(narration: str | None) -> int:
    text = (narration or "").strip()
    if not text:
        return 0
    amount = len(_CJK.findall(text)) if _CJK.search(text) else len(text.split()) * 1.6
    return round(100 * _clamp(0.2 + 0.8 * amount / 80))  # about 80 characters is a rich story for a child


def line_control(measures: dict[str, Any]) -> int:
    contrast = float(measures.get("contrast") or 0.0)
    edges = float(measures.get("edge_density") or 0.0)
    edge_fit = _clamp(1 - abs(edges - 0.08) / 0.08)
    return round(100 * _clamp(0.5 * _clamp(contrast / 0.5) + 0.5 * edge_fit))


def _colour_name(hex_code: str) -> str | None:
    try:
        r, g, b = (int(hex_code.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        return None
    hue, light, sat = colorsys.rgb_to_hls(r, g, b)
    if light > 0.9:
        return None  # the paper
    if light < 0.12:
        return "黑色"
    if sat < 0.15:
        return "灰色"
    degrees = hue * 360
    return next(name for limit, name in COLOUR_NAMES if degrees <= limit)


def _clean_boxes(raw: Any) -> list[dict[str, Any]]:
    boxes: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            continue
        try:
            box = {k: round(_clamp(float(item[k])), 4) for k in ("x", "y", "w", "h")}
        except (KeyError, TypeError, ValueError):
            continue
        score = item.get("score")
        boxes.append({"label": item["label"][:40], **box,
                      "score": round(_clamp(float(score)), 4) if isinstance(score, int | float) else None})
    return boxes[:20]


def _summary(raw: Any) -> str | None:
    if isinstance(raw, dict):
        raw = raw.get("zh") or raw.get("en")
    return raw.strip()[:500] if isinstance(raw, str) and raw.strip() else None


def read_local(data: dict[str, Any], narration: str | None) -> Reading:
    """The offline provider's measures → the six abilities (see the module docstring)."""
    scores = {k: v for k, v in (data.get("scores") or {}).items() if isinstance(v, int | float)}
    measures = data.get("measures") or {}
    abilities = {
        "color": _score(scores.get("color")) or 0,
        "composition": _score(scores.get("composition")) or 0,
        "imagination": _score(scores.get("creativity")) or 0,
        "detail": _score(scores.get("detail")) or 0,
        "lineControl": line_control(measures),
        "storytelling": storytelling(narration),
    }
    tags: list[str] = []
    for entry in data.get("palette") or []:
        name = _colour_name(str(entry.get("hex", ""))) if isinstance(entry, dict) else None
        if name and name not in tags:
            tags.append(name)
    if float(measures.get("colour_variety") or 0) * 12 >= 5:
        tags.insert(0, "色彩丰富")
    if float(measures.get("coverage") or 0) >= 0.5:
        tags.append("画面饱满")
    return Reading(abilities=abilities, tags=tags[:8], boxes=[], scores={**scores, "overall": data.get("overall")},
                   summary=_summary(data.get("summary")))


def read_remote(data: dict[str, Any], narration: str | None) -> Reading:
    """A remote model's JSON → the reading; abilities it left out come from its ``scores`` (or the narration)."""
    found: dict[str, int] = {}
    for source in (data.get("scores"), data.get("abilities")):  # abilities win over scores
        for key, value in (source or {}).items() if isinstance(source, dict) else ():
            name = ALIASES.get(str(key), ALIASES.get(str(key).lower(), str(key)))
            score = _score(value)
            if name in ABILITIES and score is not None:
                found[name] = score
    found.setdefault("storytelling", storytelling(narration))
    abilities = {name: found.get(name, 0) for name in ABILITIES}
    tags = [t.strip()[:20] for t in data.get("tags") or [] if isinstance(t, str) and t.strip()][:8]
    raw_scores = data.get("scores") if isinstance(data.get("scores"), dict) else {}
    return Reading(abilities=abilities, tags=tags, boxes=_clean_boxes(data.get("boxes")), scores=dict(raw_scores or {}),
                   summary=_summary(data.get("summary")))
