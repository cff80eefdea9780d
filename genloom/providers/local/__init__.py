"""Offline providers: real work with no network and no key (the default on a fresh machine)."""

from genloom.providers.local.image import LocalImageProvider
from genloom.providers.local.text import LocalTextProvider

__all__ = ["LocalImageProvider", "LocalTextProvider"]
