"""Growth reports: abilities averaged over a week or a month, compared with the period before.

``period=week`` covers the current ISO week (Monday 00:00 UTC on), ``month`` the current calendar month;
``range=N`` reports the last N periods (the newest is the report's own), each in ``series``. ``trend`` is the
newest period's average minus the one before it, per ability (null when either has no analysed artwork).
An artwork counts in the period it was created in, with its current completed analysis.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks.models import Artwork
from genloom.core.db import utc_now
from genloom.core.principal import Principal
from genloom.growth.abilities import ABILITIES
from genloom.growth.models import Analysis

Period = Literal["week", "month"]
MAX_RANGE = 52
NAMES = {"color": "色彩", "composition": "构图", "imagination": "想象力", "detail": "细节", "lineControl": "线条",
         "storytelling": "叙事"}


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    end: datetime
    artwork_count: int
    abilities: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    start: datetime
    end: datetime
    artwork_count: int
    abilities: dict[str, float | None]
    trend: dict[str, float | None]
    highlights: list[str]
    top_tags: list[str]
    series: list[Bucket]


def period_start(when: datetime, period: Period) -> datetime:
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def shift(start: datetime, period: Period, steps: int) -> datetime:
    if period == "week":
        return start + timedelta(weeks=steps)
    month = start.month - 1 + steps
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def _average(rows: list[dict[str, int]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in ABILITIES:
        values = [r[name] for r in rows if isinstance(r.get(name), int)]
        out[name] = round(sum(values) / len(values), 1) if values else None
    return out


def _highlights(abilities: dict[str, float | None], trend: dict[str, float | None], count: int) -> list[str]:
    if count == 0:
        return []
    lines = [f"这段时间画了 {count} 幅画。"]
    scored = {k: v for k, v in abilities.items() if v is not None}
    if scored:
        best = max(scored, key=lambda k: (scored[k], -ABILITIES.index(k)))
        lines.append(f"最突出的是{NAMES[best]}（平均 {scored[best]:.0f} 分）。")
    grown = {k: v for k, v in trend.items() if v is not None and v >= 5}
    if grown:
        most = max(grown, key=lambda k: grown[k] or 0)
        lines.append(f"{NAMES[most]}比上一阶段提高了 {grown[most]:.0f} 分。")
    return lines


async def build_report(session: AsyncSession, principal: Principal, *, period: Period, count: int,
                       now: datetime | None = None) -> Report:
    count = max(1, min(MAX_RANGE, count))
    current = period_start(now or utc_now(), period)
    starts = [shift(current, period, -i) for i in range(count, -1, -1)]  # one extra before, for the trend
    since, until = starts[0], shift(current, period, 1)
    rows = (await session.execute(
        select(Artwork.created_at, Analysis.abilities, Analysis.tags, Analysis.status)
        .join(Analysis, Analysis.artwork_id == Artwork.id, isouter=True)
        .where(Artwork.owner_id == principal.owner_id, Artwork.status.in_(("draft", "ready")),
               Artwork.created_at >= since, Artwork.created_at < until)
    )).all()
    buckets: list[Bucket] = []
    tags: Counter[str] = Counter()
    for index, start in enumerate(starts):
        end = shift(start, period, 1)
        inside = [r for r in rows if start <= r.created_at < end]
        done = [dict(r.abilities or {}) for r in inside if r.status == "completed"]
        buckets.append(Bucket(start=start, end=end, artwork_count=len(inside), abilities=_average(done)))
        if index > 0:
            tags.update(t for r in inside if r.status == "completed" for t in (r.tags or []))
    previous, latest = buckets[-2], buckets[-1]
    trend = {name: (round(latest.abilities[name] - previous.abilities[name], 1)  # type: ignore[operator]
                    if latest.abilities[name] is not None and previous.abilities[name] is not None else None)
             for name in ABILITIES}
    series = buckets[1:]
    total = sum(b.artwork_count for b in series)
    done_all = [dict(r.abilities or {}) for r in rows if r.status == "completed" and r.created_at >= starts[1]]
    averages = _average(done_all)
    return Report(period=period, start=series[0].start, end=until, artwork_count=total, abilities=averages,
                  trend=trend, highlights=_highlights(averages, trend, total),
                  top_tags=[t for t, _ in tags.most_common(8)], series=series)
