"""What ``genloom serve`` says when it is up: one line (where it listens, the database, the storage, the
providers, the embedded workers) and a warning while the built-in development secret key is in use."""

from __future__ import annotations

import logging

from sqlalchemy.engine import URL

from genloom.core.settings import INSECURE_SECRET, Settings

CAPABILITIES = ("text", "image", "video", "asr", "vision")


def startup_line(settings: Settings, database_url: URL, workers: int) -> str:
    """``genloom listening on http://127.0.0.1:8000 · database sqlite+aiosqlite:///data/genloom.db · …``"""
    storage = (f"s3://{settings.s3_bucket}" + (f" at {settings.s3_endpoint}" if settings.s3_endpoint else "")
               if settings.storage == "s3" else f"local {settings.media_root}")
    providers = " ".join(f"{cap}={getattr(settings, f'{cap}_provider')}" for cap in CAPABILITIES)
    return (f"genloom listening on http://{settings.host}:{settings.port} · "
            f"database {database_url.render_as_string(hide_password=True)} · storage {storage} · "
            f"providers {providers} · {workers} embedded worker slot{'s' if workers != 1 else ''}")


def secret_key_warning(settings: Settings) -> str | None:
    if settings.secret_key != INSECURE_SECRET:
        return None
    return ("GENLOOM_SECRET_KEY is the built-in development key: anyone who knows it can forge signed media "
            "URLs and login tokens. Set your own (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
            "before this server is reachable by others.")


#: start-up chatter (Alembic's plugin and migration lines, uvicorn's "Started server process" …, the hub going
#: live): shown at GENLOOM_LOG_LEVEL=DEBUG only; at INFO, :func:`startup_line` says where it listens and with what
STARTUP_CHATTER = ("alembic", "uvicorn.error", "genloom.hub")


def quiet_startup_chatter() -> None:
    """Call after ``configure_logging``: errors and warnings of these loggers still show at every level."""
    chatty = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    for name in STARTUP_CHATTER:
        logging.getLogger(name).setLevel(logging.NOTSET if chatty else logging.WARNING)
