"""Parsing a generation brief: an object with Chinese keys (plus the frontend's ``prompt`` / ``prompts``).

Control keys (each error names the key)::

    比例      ratio "W:H" (also "W：H")                 分辨率    "WxH" (x, X, ×, *), 64–2048 per side, multiples of 8
    风格      style: a string or a list of strings      数量      images, 1–4
    种子      seed, 0 ≤ seed < 2^32                      负面提示  negative prompt
    关联节点  list of node ids (checked by the service)  模型      image provider and/or model: "dashscope/wan2.2-t2i"

Every other key is a content field (a string, a number or a list of them). Ratio and resolution must agree
when both are given (within 1 %); either alone determines the size (a ratio alone: the longer side 1024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from genloom.core.errors import InvalidInput
from genloom.core.settings import PROVIDER_ALIASES, PROVIDER_NAMES

K_RATIO, K_RESOLUTION, K_STYLE, K_COUNT = "比例", "分辨率", "风格", "数量"
K_SEED, K_NEGATIVE, K_NODES, K_MODEL = "种子", "负面提示", "关联节点", "模型"
CONTROL_KEYS = (K_RATIO, K_RESOLUTION, K_STYLE, K_COUNT, K_SEED, K_NEGATIVE, K_NODES, K_MODEL)
FRONTEND_KEYS = ("prompt", "prompts")

MIN_SIDE, MAX_SIDE, SIDE_STEP = 64, 2048, 8
DEFAULT_SIDE = 1024
MAX_COUNT = 4
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 50
MAX_NODES = 50
RATIO_TOLERANCE = 0.01

_RATIO = re.compile(r"^\s*(\d{1,4})\s*[:：]\s*(\d{1,4})\s*$")
_RESOLUTION = re.compile(r"^\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*$")


@dataclass(slots=True)
class Brief:
    fields: dict[str, str]
    width: int
    height: int
    count: int = 1
    seed: int | None = None
    styles: list[str] = field(default_factory=list)
    negative: str = ""
    related_nodes: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    lead: str = ""
    english: str = ""
    ratio: str | None = None

    def params(self) -> dict[str, Any]:
        """The generation parameters as recorded on each graph result."""
        out: dict[str, Any] = {"width": self.width, "height": self.height, "count": self.count}
        for name, value in (("ratio", self.ratio), ("seed", self.seed), ("negativePrompt", self.negative or None),
                            ("provider", self.provider), ("model", self.model), ("styles", self.styles or None)):
            if value is not None:
                out[name] = value
        return out


def _text(value: Any, key: str) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"{key} must be text", field=key)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        text = "、".join(str(v).strip() for v in value if str(v).strip())
    else:
        raise InvalidInput(f"{key} must be text or a list of texts", field=key)
    if len(text) > MAX_FIELD_CHARS:
        raise InvalidInput(f"{key} is longer than {MAX_FIELD_CHARS} characters", field=key)
    return text


def _int(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer", field=key)
    if not low <= value <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}", field=key)
    return value


def _ratio(value: Any) -> tuple[int, int]:
    match = _RATIO.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f'{K_RATIO} must look like "16:9"', field=K_RATIO)
    w, h = int(match.group(1)), int(match.group(2))
    if w == 0 or h == 0 or max(w, h) / min(w, h) > 8:
        raise InvalidInput(f"{K_RATIO} must be positive and at most 8:1", field=K_RATIO)
    return w, h


def _resolution(value: Any) -> tuple[int, int]:
    match = _RESOLUTION.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f'{K_RESOLUTION} must look like "1024x768"', field=K_RESOLUTION)
    w, h = int(match.group(1)), int(match.group(2))
    for side in (w, h):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise InvalidInput(f"{K_RESOLUTION}: each side must be between {MIN_SIDE} and {MAX_SIDE}", field=K_RESOLUTION)
        if side % SIDE_STEP:
            raise InvalidInput(f"{K_RESOLUTION}: each side must be a multiple of {SIDE_STEP}", field=K_RESOLUTION)
    return w, h


def size_for_ratio(w: int, h: int, *, longest: int = DEFAULT_SIDE) -> tuple[int, int]:
    """The size with the longer side ``longest`` and the other rounded to a multiple of 8 (at least 64)."""
    def snap(x: float) -> int:
        return max(MIN_SIDE, min(MAX_SIDE, int(round(x / SIDE_STEP)) * SIDE_STEP))

    if w >= h:
        return snap(longest), snap(longest * h / w)
    return snap(longest * w / h), snap(longest)


def _model(value: Any) -> tuple[str | None, str | None]:
    """"dashscope/wan2.2", "dashscope", or a bare model name."""
    text = _text(value, K_MODEL)
    if not text or len(text) > 100:
        raise InvalidInput(f"{K_MODEL} must be 1–100 characters", field=K_MODEL)
    head, sep, tail = text.partition("/") if "/" in text else text.partition(":")
    name = PROVIDER_ALIASES.get(head.lower(), head.lower())
    if name in PROVIDER_NAMES:
        return name, (tail.strip() or None) if sep else None
    return None, text


def parse_brief(body: Any) -> Brief:
    """Validate a brief; raise InvalidInput naming the key at fault."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    lead, english = "", ""
    if "prompt" in body and body["prompt"] is not None:
        lead = _text(body["prompt"], "prompt")
    prompts = body.get("prompts")
    if prompts is not None:
        if not isinstance(prompts, dict) or not set(prompts) <= {"zh", "en"}:
            raise InvalidInput('prompts must be {"zh": "…", "en": "…"}', field="prompts")
        zh = _text(prompts["zh"], "prompts.zh") if prompts.get("zh") is not None else ""
        english = _text(prompts["en"], "prompts.en") if prompts.get("en") is not None else ""
        lead = "；".join(p for p in (lead, zh) if p)
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key in CONTROL_KEYS or key in FRONTEND_KEYS:
            continue
        if not isinstance(key, str) or not key.strip() or len(key) > 40:
            raise InvalidInput("content keys must be 1–40 characters", field=str(key)[:40])
        text = _text(value, key)
        if text:
            fields[key.strip()] = text
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"at most {MAX_FIELDS} content fields", field="body")
    if not fields and not lead and not english:
        raise InvalidInput("the brief has no content: add a content field (e.g. 主体) or prompt", field="prompt")

    ratio = _ratio(body[K_RATIO]) if body.get(K_RATIO) is not None else None
    resolution = _resolution(body[K_RESOLUTION]) if body.get(K_RESOLUTION) is not None else None
    if ratio and resolution:
        if abs(Fraction(*resolution) / Fraction(*ratio) - 1) > RATIO_TOLERANCE:
            raise InvalidInput(f"{K_RESOLUTION} {resolution[0]}x{resolution[1]} does not match {K_RATIO} "
                               f"{ratio[0]}:{ratio[1]}", field=K_RESOLUTION)
    width, height = resolution or (size_for_ratio(*ratio) if ratio else (DEFAULT_SIDE, DEFAULT_SIDE))

    styles: list[str] = []
    if body.get(K_STYLE) is not None:
        raw = body[K_STYLE]
        items = raw if isinstance(raw, list) else [raw]
        styles = [_text(s, K_STYLE) for s in items]
    nodes: list[str] = []
    if body.get(K_NODES) is not None:
        raw_nodes = body[K_NODES]
        if not isinstance(raw_nodes, list) or not all(isinstance(n, str) for n in raw_nodes):
            raise InvalidInput(f"{K_NODES} must be a list of node ids", field=K_NODES)
        if len(raw_nodes) > MAX_NODES:
            raise InvalidInput(f"{K_NODES}: at most {MAX_NODES} nodes", field=K_NODES)
        nodes = list(dict.fromkeys(n.strip().lower() for n in raw_nodes))
    provider, model = _model(body[K_MODEL]) if body.get(K_MODEL) is not None else (None, None)
    return Brief(
        fields=fields, width=width, height=height,
        count=_int(body[K_COUNT], K_COUNT, 1, MAX_COUNT) if body.get(K_COUNT) is not None else 1,
        seed=_int(body[K_SEED], K_SEED, 0, 2**32 - 1) if body.get(K_SEED) is not None else None,
        styles=styles,
        negative=_text(body[K_NEGATIVE], K_NEGATIVE) if body.get(K_NEGATIVE) is not None else "",
        related_nodes=nodes, provider=provider, model=model, lead=lead, english=english,
        ratio=f"{ratio[0]}:{ratio[1]}" if ratio else None,
    )
