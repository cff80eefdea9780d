"""Health probes of the remote providers in use: is each one reachable right now, before any job finds out?

At start-up and then every ``GENLOOM_PROVIDER_PROBE_INTERVAL_SECONDS`` (30 s) each remote provider chosen for a
capability gets one cheap, free request (:func:`probe_targets`):

| provider | probe |
|---|---|
| comfyui | ``GET {COMFYUI_URL}/system_stats`` |
| openai | ``GET {OPENAI_BASE_URL}/models`` |
| dashscope | ``GET {DASHSCOPE_BASE_URL}/compatible-mode/v1/models`` (its OpenAI-compatible models list) |
| ark | ``GET {ARK_BASE_URL}/models`` |
| make | ``GET {MAKE_API_BASE_URL}/`` (the API has no documented health call: any HTTP answer will do) |

A provider is *reachable* when it answers with a status below 500: a 401 or 404 still proves the host is up
(the status is shown, so a wrong key is visible too). A connection failure, a timeout or a 5xx is unreachable.
Results appear as ``reachable`` in ``GET /health`` and ``GET /v1/providers``; an unreachable provider at
start-up is a WARNING line, never fatal (it may come up later).

The probe also informs the provider's circuit breaker, so jobs meet an outage the probe already saw without
spending a call on it: a host that refuses connections (or lets the connect time out) opens the breaker at
once; any answer while the breaker is open ends its cool-down early (the next call is the trial call). A 5xx
from the probe path leaves the breaker alone: the provider's real endpoints may still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from genloom.core.settings import Settings
from genloom.providers.http import make_client
from genloom.providers.resilience import ProviderGuard

log = logging.getLogger("genloom.providers.probe")

CAPABILITIES = ("text", "image", "video", "asr", "vision")


@dataclass(frozen=True)
class ProbeTarget:
    """One provider's health request (its headers carry the key, so they are never logged)."""

    provider: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass
class Reachability:
    """The last probe's verdict for one provider."""

    reachable: bool | None = None  #: None until the first probe answered or failed
    checked_at: float | None = None  #: epoch seconds
    status: int | None = None  #: the HTTP status the probe got, if any
    error: str | None = None  #: why it is unreachable: connect_failed, timeout, http_5xx, transport_error
    latency_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reachable": self.reachable, "checked_at": self.checked_at, "status": self.status,
                "error": self.error, "latency_ms": self.latency_ms}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def chosen_remote_providers(settings: Settings) -> list[str]:
    """The remote providers some capability is set to, in a stable order."""
    names = {str(getattr(settings, f"{capability}_provider")) for capability in CAPABILITIES}
    return sorted(names - {"local"})


def probe_targets(settings: Settings, providers: Iterable[str] | None = None) -> list[ProbeTarget]:
    """The probe of each remote provider in use (or of ``providers``); see the module docstring's table."""
    wanted = chosen_remote_providers(settings) if providers is None else list(providers)
    targets: list[ProbeTarget] = []
    for name in wanted:
        if name == "comfyui" and settings.comfyui_url:
            targets.append(ProbeTarget(name, f"{settings.comfyui_url.rstrip('/')}/system_stats"))
        elif name == "openai" and settings.openai_base_url:
            targets.append(ProbeTarget(name, f"{settings.openai_base_url.rstrip('/')}/models",
                                       _bearer(settings.openai_api_key)))
        elif name == "dashscope" and settings.dashscope_base_url:
            targets.append(ProbeTarget(name, f"{settings.dashscope_base_url.rstrip('/')}/compatible-mode/v1/models",
                                       _bearer(settings.dashscope_api_key or settings.zimage_api_key)))
        elif name == "ark" and settings.ark_base_url:
            targets.append(ProbeTarget(name, f"{settings.ark_base_url.rstrip('/')}/models", _bearer(settings.ark_api_key)))
        elif name == "make" and settings.make_api_base_url:
            token, scheme = settings.make_api_token, settings.make_auth_scheme.strip()
            headers = {settings.make_auth_header: f"{scheme} {token}" if scheme else token} if token else {}
            targets.append(ProbeTarget(name, f"{settings.make_api_base_url.rstrip('/')}/", headers))
    return targets


class Prober:
    """Probes every target now and then; keeps each provider's :class:`Reachability` for the status routes.

    :param targets: what to probe (:func:`probe_targets`)
    :param guards: provider name → its guard, whose breaker the verdicts inform (providers without one are
        only reported)
    :param interval: seconds between probe rounds; 0 probes only once
    :param timeout: seconds one probe may take (connect and read)
    """

    def __init__(self, settings: Settings, targets: list[ProbeTarget], guards: Mapping[str, ProviderGuard], *,
                 interval: float, timeout: float, http: httpx.AsyncClient | None = None) -> None:
        self.targets = targets
        self.guards = guards
        self.interval = interval
        self.status: dict[str, Reachability] = {t.provider: Reachability() for t in targets}
        self.http = http or make_client(settings, read_timeout=timeout, connect_timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    def reachable(self, provider: str) -> bool | None:
        found = self.status.get(provider)
        return found.reachable if found is not None else None

    async def probe_all(self) -> dict[str, Reachability]:
        """One round: every target at once. Never raises."""
        await asyncio.gather(*(self._probe(target) for target in self.targets))
        return self.status

    async def _probe(self, target: ProbeTarget) -> None:
        started = time.perf_counter()
        verdict = Reachability(checked_at=time.time())
        connect_failed = False
        try:
            response = await self.http.get(target.url, headers=dict(target.headers))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            connect_failed = True
            verdict.reachable = False
            verdict.error = "timeout" if isinstance(exc, httpx.ConnectTimeout) else "connect_failed"
        except httpx.TimeoutException:
            verdict.reachable, verdict.error = False, "timeout"
        except httpx.TransportError:
            verdict.reachable, verdict.error = False, "transport_error"
        else:
            verdict.status = response.status_code
            verdict.reachable = response.status_code < 500
            verdict.error = None if verdict.reachable else "http_5xx"
        verdict.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        was = self.status.get(target.provider)
        self.status[target.provider] = verdict
        guard = self.guards.get(target.provider)
        if guard is not None:
            if connect_failed:
                guard.breaker.trip("probe_unreachable")
            elif verdict.status is not None:
                guard.breaker.end_cooldown()
        if was is None or was.reachable != verdict.reachable:
            level = logging.INFO if verdict.reachable else logging.WARNING
            log.log(level, "provider=%s probe=%s status=%s error=%s latency_ms=%s", target.provider,
                    "reachable" if verdict.reachable else "unreachable", verdict.status or "-", verdict.error or "-",
                    verdict.latency_ms)

    async def run(self, stop: asyncio.Event) -> None:
        """Probe at once, then every ``interval`` seconds until ``stop`` is set (a start-up probe that finds a
        provider down logs a WARNING; the process starts anyway)."""
        while not stop.is_set():
            try:
                await self.probe_all()
            except Exception:  # noqa: BLE001 - a probe bug must never take the process down
                log.exception("provider.probe_failed")
            if self.interval <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
