"""What the HuaBan surface keeps per process: its rate limiter (database or Redis counters), created by the
surface's lifespan and reached through :func:`state_of` (never through the runtime)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from genloom.ratelimits.limiter import RateLimiter, Rule, build_limiter, parse_rules
from genloom.runtime import Runtime


@dataclass
class HuabanState:
    limiter: RateLimiter
    rules: dict[str, Rule]


_states: weakref.WeakKeyDictionary[Runtime, HuabanState] = weakref.WeakKeyDictionary()


def open_state(runtime: Runtime) -> HuabanState:
    settings = runtime.settings
    state = HuabanState(
        limiter=build_limiter(runtime.db, use_redis=settings.use_redis, redis_url=settings.redis_url,
                              redis_prefix=settings.redis_prefix),
        rules=parse_rules(settings.huaban_rate_limits),  # a malformed GENLOOM_HUABAN_RATE_LIMITS stops start-up
    )
    _states[runtime] = state
    return state


async def close_state(runtime: Runtime) -> None:
    state = _states.pop(runtime, None)
    if state is not None:
        await state.limiter.aclose()


def state_of(runtime: Runtime) -> HuabanState:
    state = _states.get(runtime)
    if state is None:
        raise RuntimeError("the HuaBan surface's lifespan has not started for this runtime")
    return state
