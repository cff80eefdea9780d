"""Offline vision: measure a drawing with Pillow and map the measures to ability scores with short comments.

Measures (each 0–1, on a copy scaled to at most 256 px so the cost does not grow with the upload): the dominant
palette, colour variety (hue families present), saturation, brightness, contrast, edge density, left-right
symmetry, coverage (share of the page that differs from the background) and balance (how centred the drawn
part is). The mapping to scores is a fixed formula, so the same picture always gets the same analysis. It
judges what can be measured, not what the drawing depicts; the instruction is therefore not used.
"""

from __future__ import annotations

import asyncio
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from genloom.providers.base import ProviderError, VisionRequest, VisionResult

MODEL = "drawing-measures-v1"
WORK_SIDE = 256  # px
PALETTE_SIZE = 6
HUE_FAMILIES = 12
VIVID = 60  # saturation and value (0–255) from which a pixel counts towards a hue family
FAMILY_MIN_SHARE = 0.03
EDGE_THRESHOLD = 40
INK_THRESHOLD = 40  # colour distance from the background that counts as drawn
ABILITIES = ("color", "composition", "detail", "creativity")


@dataclass(frozen=True, slots=True)
class Measures:
    palette: list[tuple[str, float]]
    colour_variety: float
    saturation: float
    brightness: float
    contrast: float
    edge_density: float
    symmetry: float
    coverage: float
    balance: float
    palette_entropy: float
    width: int
    height: int


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _open(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The picture upright on white paper, scaled down to the working size, and its displayed size."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)
            upright = ImageOps.exif_transpose(opened)
            if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
                # transparent areas are blank paper, not black ink
                rgba = upright.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(paper, rgba).convert("RGB")
            else:
                image = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(f"the image cannot be read: {exc}", provider="local", code="invalid_image") from None
    size = image.size
    image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    return image, size


def _share(mask: Image.Image) -> float:
    """Share of white pixels in a 0/255 mask."""
    histogram = mask.histogram()
    total = sum(histogram)
    return histogram[255] / total if total else 0.0


def _palette(image: Image.Image) -> tuple[list[tuple[str, float]], float]:
    quantized = image.quantize(colors=PALETTE_SIZE, method=Image.Quantize.MEDIANCUT)
    flat = quantized.getpalette() or []
    counts = sorted(quantized.getcolors() or [], key=lambda item: (-item[0], item[1]))
    total = sum(count for count, _ in counts) or 1
    palette = []
    for count, index in counts:
        start = int(index) * 3  # type: ignore[call-overload]  # a palette image's colours are indices
        r, g, b = flat[start: start + 3]
        palette.append((f"#{r:02x}{g:02x}{b:02x}", round(count / total, 3)))
    shares = [count / total for count, _ in counts]
    entropy = -sum(p * math.log(p) for p in shares if p > 0)
    return palette, _clamp(entropy / math.log(PALETTE_SIZE))


def _colour_variety(image: Image.Image) -> tuple[float, float]:
    hue, sat, val = image.convert("HSV").split()
    vivid = ImageChops.multiply(sat.point(lambda v: 255 if v >= VIVID else 0),
                                val.point(lambda v: 255 if v >= VIVID else 0))
    histogram = hue.histogram(mask=vivid)
    vivid_total = sum(histogram)
    families = [0] * HUE_FAMILIES
    for value, count in enumerate(histogram):
        families[value * HUE_FAMILIES // 256] += count
    present = sum(1 for count in families if vivid_total and count / vivid_total >= FAMILY_MIN_SHARE)
    # a drawing with almost no vivid pixels has no hue families worth counting
    variety = present / HUE_FAMILIES if _share(vivid) >= 0.02 else 0.0
    return variety, ImageStat.Stat(sat).mean[0] / 255


def _background(image: Image.Image) -> tuple[int, int, int]:
    """The median colour of the picture's border (where the paper usually shows)."""
    width, height = image.size
    strip = max(1, min(width, height) // 20)
    border = Image.new("RGB", (width * 2 + height * 2, strip))
    border.paste(image.crop((0, 0, width, strip)), (0, 0))
    border.paste(image.crop((0, height - strip, width, height)), (width, 0))
    border.paste(image.crop((0, 0, strip, height)).rotate(90, expand=True), (2 * width, 0))
    border.paste(image.crop((width - strip, 0, width, height)).rotate(90, expand=True), (2 * width + height, 0))
    r, g, b = (int(v) for v in ImageStat.Stat(border).median)
    return r, g, b


def _ink(image: Image.Image) -> Image.Image:
    difference = ImageChops.difference(image, Image.new("RGB", image.size, _background(image)))
    r, g, b = difference.split()
    strongest = ImageChops.lighter(ImageChops.lighter(r, g), b)
    return strongest.point(lambda v: 255 if v > INK_THRESHOLD else 0)


def _balance(ink: Image.Image) -> float:
    """1 when the drawn part's centre of mass is the page's centre, 0 when it sits on an edge."""
    small = ink.resize((64, 64), Image.Resampling.BILINEAR)
    width, height = small.size
    total = sx = sy = 0.0
    for index, value in enumerate(small.tobytes()):  # mode L: one byte per pixel
        if value:
            total += value
            sx += value * (index % width)
            sy += value * (index // width)
    if not total:
        return 0.0
    dx = sx / total / (width - 1) - 0.5
    dy = sy / total / (height - 1) - 0.5
    return _clamp(1 - math.hypot(dx, dy) / 0.5)


def measure(data: bytes) -> Measures:
    image, (width, height) = _open(data)
    gray = image.convert("L")
    stat = ImageStat.Stat(gray)
    palette, entropy = _palette(image)
    variety, saturation = _colour_variety(image)
    edges = gray.filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > EDGE_THRESHOLD else 0)
    edges = edges.crop((1, 1, max(2, edges.width - 1), max(2, edges.height - 1)))  # the filter marks the frame
    mirror = ImageChops.difference(gray, gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    ink = _ink(image)
    return Measures(
        palette=palette,
        colour_variety=variety,
        saturation=_clamp(saturation),
        brightness=_clamp(stat.mean[0] / 255),
        contrast=_clamp(stat.stddev[0] / 128),
        edge_density=_share(edges),
        symmetry=_clamp(1 - 2 * ImageStat.Stat(mirror).mean[0] / 255),
        coverage=_share(ink),
        balance=_balance(ink),
        palette_entropy=entropy,
        width=width,
        height=height,
    )


def scores(m: Measures) -> dict[str, int]:
    variety = _clamp(m.colour_variety * HUE_FAMILIES / 6)  # six hue families already make a colourful drawing
    detail_edges = _clamp(m.edge_density / 0.12)
    coverage_fit = _clamp(1 - abs(m.coverage - 0.55) / 0.55)  # a page about half full reads best
    raw = {
        "color": 0.4 * variety + 0.35 * _clamp(m.saturation / 0.45) + 0.25 * _clamp(1 - abs(m.brightness - 0.6) / 0.6),
        "composition": 0.4 * m.balance + 0.35 * coverage_fit + 0.25 * m.symmetry,
        "detail": 0.6 * detail_edges + 0.4 * _clamp(m.contrast / 0.5),
        "creativity": 0.35 * variety + 0.25 * m.palette_entropy + 0.2 * (1 - m.symmetry) + 0.2 * detail_edges,
    }
    return {name: round(100 * _clamp(value)) for name, value in raw.items()}


COMMENTS: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str]]] = {
    # (high ≥ 75, middle ≥ 50, low): (zh, en)
    "color": (("色彩丰富大胆，搭配和谐。", "Rich, bold colours that work well together."),
              ("用色不错，可以再多尝试几种颜色。", "Nice colours; try adding a few more."),
              ("颜色还比较少，试试用更多鲜艳的颜色吧！", "Only a few colours so far - try some brighter ones!")),
    "composition": (("画面饱满，布局平衡。", "The page is full and well balanced."),
                    ("布局基本平衡，可以把主体画得更大一些。", "Fairly balanced; try drawing the main subject bigger."),
                    ("画面有些空或偏向一边，想想主体放在哪里。",
                     "The page feels empty or lopsided - think about where the main subject goes.")),
    "detail": (("细节丰富，线条清晰。", "Lots of detail and clear lines."),
               ("有一些细节，可以再添加纹理和小装饰。", "Some detail; add textures and small touches."),
               ("细节较少，可以多画一些小东西。", "Few details yet - add more little things.")),
    "creativity": (("想象力丰富，很有自己的风格！", "Full of imagination, with a style of its own!"),
                   ("有自己的想法，继续大胆尝试。", "Your own ideas show - keep experimenting."),
                   ("可以加入更多自己的想象。", "Add more of your own imagination.")),
}
NAMES = {"color": ("色彩", "colour"), "composition": ("构图", "composition"), "detail": ("细节", "detail"),
         "creativity": ("创意", "creativity")}


def _band(score: int) -> int:
    return 0 if score >= 75 else 1 if score >= 50 else 2


def analysis(m: Measures) -> dict[str, object]:
    result = scores(m)
    comments_zh = {name: COMMENTS[name][_band(score)][0] for name, score in result.items()}
    comments_en = {name: COMMENTS[name][_band(score)][1] for name, score in result.items()}
    ranked = sorted(ABILITIES, key=lambda name: (-result[name], ABILITIES.index(name)))
    best, weakest = ranked[0], ranked[-1]
    summary = {
        "zh": f"最突出的是{NAMES[best][0]}（{result[best]}分）；{NAMES[weakest][0]}还可以加强（{result[weakest]}分）。",
        "en": f"Strongest: {NAMES[best][1]} ({result[best]}). Room to grow: {NAMES[weakest][1]} ({result[weakest]}).",
    }
    return {
        "scores": result,
        "overall": round(sum(result.values()) / len(result)),
        "comments": {"zh": comments_zh, "en": comments_en},
        "summary": summary,
        "palette": [{"hex": hex_code, "share": share} for hex_code, share in m.palette],
        "measures": {
            "colour_variety": round(m.colour_variety, 3), "saturation": round(m.saturation, 3),
            "brightness": round(m.brightness, 3), "contrast": round(m.contrast, 3),
            "edge_density": round(m.edge_density, 3), "symmetry": round(m.symmetry, 3),
            "coverage": round(m.coverage, 3), "balance": round(m.balance, 3),
        },
        "image": {"width": m.width, "height": m.height},
    }


class LocalVisionProvider:
    name = "local"
    model = MODEL

    async def analyze(self, request: VisionRequest) -> VisionResult:
        measures = await asyncio.to_thread(measure, request.image)
        data = analysis(measures)
        return VisionResult(data=data, provider=self.name, model=MODEL)
