"""Seed 002's generic "make" image API (the TalesofAI/Neta ``make_image`` service behind it): submit, then poll
a task until it ends. Hosts, paths, auth header and field names are settings (PROVIDERS.md §5)."""

from __future__ import annotations

from genloom.providers.make.client import DEFAULT_MODEL, PROVIDER, MakeImage, build, required_settings

__all__ = ["DEFAULT_MODEL", "PROVIDER", "MakeImage", "build", "required_settings"]
