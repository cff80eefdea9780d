"""All of genloom's configuration, in one place.

Values come from the environment, then `.env.<GENLOOM_ENV>`, then `.env` (earlier wins). genloom's own names
start with ``GENLOOM_`` (a field without an explicit alias list is read from ``GENLOOM_<FIELD>``); the seed
applications' names (``HOST``, ``PORT``, ``USE_REDIS``, ``QWEN_API_KEY`` …) are accepted as aliases so their
existing ``.env`` files keep working.

The fields are grouped by area, one mixin module each; :class:`Settings` is their union, so code reads one flat
object (``settings.lease_seconds``) and the environment names stay flat too. A new area adds a mixin module
here and one base class of :class:`Settings` in ``model.py``. Build settings once with :func:`load_settings` and pass them down; nothing
reads them at import time.
"""

from __future__ import annotations

from genloom.core.settings.fields import AuthMode, Env, normalise_database_url
from genloom.core.settings.loading import SettingsError, env_names, load_settings
from genloom.core.settings.model import INSECURE_SECRET, Settings
from genloom.core.settings.providers import PROVIDER_ALIASES, PROVIDER_NAMES

__all__ = [
    "INSECURE_SECRET", "PROVIDER_ALIASES", "PROVIDER_NAMES", "AuthMode", "Env", "Settings", "SettingsError",
    "env_names", "load_settings", "normalise_database_url",
]
