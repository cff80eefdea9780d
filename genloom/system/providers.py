"""``GET /v1/providers``: which provider serves each capability, and each remote provider's health (circuit
breaker state, calls in flight, and ``reachable`` from its last health probe: true, false, or null before the
first probe or when probes are off). Nothing secret is shown: no keys, no URLs, error codes only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from genloom.deps import RuntimeDep
from genloom.identity.deps import NativeCaller

router = APIRouter()

CAPABILITIES = ("text", "image", "video", "asr", "vision")


class CapabilityRead(BaseModel):
    provider: str
    model: str | None = None
    circuit: str | None = None
    #: the provider's last health probe: true, false, or null (a local provider, or not probed yet)
    reachable: bool | None = None


class ProvidersRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "capabilities": {
            "text": {"provider": "dashscope", "model": "qwen-plus", "circuit": "open", "reachable": False},
            "image": {"provider": "local", "model": "local-render-v1", "circuit": None, "reachable": None},
        },
        "health": {"dashscope": {"provider": "dashscope",
                                 "breaker": {"state": "open", "consecutive_failures": 0, "opened_count": 1,
                                             "retry_in_seconds": 21.5, "last_error": "probe_unreachable"},
                                 "concurrency": 4, "in_flight": 0, "calls": 12, "failures": 0, "reachable": False,
                                 "probe": {"reachable": False, "checked_at": 1795000000.25, "status": None,
                                           "error": "connect_failed", "latency_ms": 1.2}}},
    }})

    capabilities: dict[str, CapabilityRead]
    #: provider name -> guard status: breaker {state, consecutive_failures, opened_count, retry_in_seconds,
    #: last_error}, concurrency, in_flight, calls, failures; for remote providers also reachable and probe
    #: {reachable, checked_at, status, error, latency_ms}
    health: dict[str, dict[str, Any]]


@router.get("/v1/providers", response_model=ProvidersRead, tags=["System"], summary="Providers and their health")
async def list_providers(runtime: RuntimeDep, caller: NativeCaller) -> ProvidersRead:
    providers = runtime.providers
    health: dict[str, dict[str, Any]] = {}
    for name, item in providers.health.items():
        status = getattr(item, "status", None)
        if callable(status):
            health[name] = status()
    for name, verdict in runtime.probes.status.items():
        entry = health.setdefault(name, {"provider": name})
        entry["reachable"] = verdict.reachable
        entry["probe"] = verdict.to_dict()
    capabilities: dict[str, CapabilityRead] = {}
    for capability in CAPABILITIES:
        provider = getattr(providers, capability, None)
        if provider is None:
            continue
        name = str(getattr(provider, "name", "unknown"))
        breaker = health.get(name, {}).get("breaker", {})
        capabilities[capability] = CapabilityRead(provider=name, model=getattr(provider, "model", None),
                                                  circuit=breaker.get("state"),
                                                  reachable=runtime.probes.reachable(name))
    return ProvidersRead(capabilities=capabilities, health=health)
