"""Offline providers: real work with no network and no key (the default on a fresh machine)."""

from genloom.providers.local.asr import LocalAsrProvider
from genloom.providers.local.image import LocalImageProvider
from genloom.providers.local.text import LocalTextProvider
from genloom.providers.local.video import LocalVideoProvider
from genloom.providers.local.vision import LocalVisionProvider

__all__ = ["LocalAsrProvider", "LocalImageProvider", "LocalTextProvider", "LocalVideoProvider", "LocalVisionProvider"]
