"""Surviving provider outages (how long a job may wait for its provider, how often providers are probed), and
which WebSocket clients may connect without an ``Origin``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class ReliabilitySettings(BaseSettings):
    # how long one job may wait (in total, across waits) for a provider whose circuit is open before it fails
    # with provider_unavailable; waiting never uses up one of the job's attempts
    provider_outage_window_seconds: float = Field(default=900.0, gt=0)
    # probe each remote provider in use at start-up and then periodically (reachable in /health, /v1/providers)
    provider_probes: bool = Field(default=True)
    # seconds between health probes of each remote provider (ComfyUI /system_stats, a models list…); 0 probes
    # only at start-up
    provider_probe_interval_seconds: float = Field(default=30.0, ge=0)
    # a probe that takes longer than this counts as unreachable
    provider_probe_timeout_seconds: float = Field(default=5.0, gt=0)
    # refuse WebSocket handshakes that carry no Origin header (non-browser clients send none; browsers always do)
    ws_require_origin: bool = Field(default=False)
