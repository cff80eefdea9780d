"""HuaBan installs: ``POST /init`` registers a client id (issuing one to a fresh install) with what the app
says about its device, on identity's ``clients`` table."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from genloom.core.db import Database, retry_busy, utc_now
from genloom.identity import clients
from genloom.identity.models import Client

#: nanoid's default alphabet and length: 126 bits of randomness, URL-safe, within X-Client-Id's 8–64 rule
ALPHABET = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ID_LENGTH = 21
MAX_DEVICE_FIELDS = 20


@dataclass(frozen=True, slots=True)
class Registered:
    client_id: str
    created_at: datetime
    issued: bool


def issue_client_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def clean_device(device: dict[str, Any] | None) -> dict[str, str | int | float | bool] | None:
    """Keep short scalar fields only (platform, model, os, app version…): no nested data, nothing long."""
    if not device:
        return None
    out: dict[str, str | int | float | bool] = {}
    for key, value in list(device.items())[:MAX_DEVICE_FIELDS]:
        if isinstance(value, bool | int | float):
            out[str(key)[:40]] = value
        elif isinstance(value, str):
            out[str(key)[:40]] = value[:120]
    return out or None


async def register(db: Database, seen: dict[str, float], *, client_id: str | None, device: dict[str, Any] | None,
                   user_agent: str | None) -> Registered:
    issued = not client_id
    checked = issue_client_id() if issued else clients.check_client_id(client_id or "", field="clientId")
    seen.pop(checked, None)  # /init always writes: it is where the device is recorded
    await clients.touch_client(db, seen, checked, user_agent)
    cleaned = clean_device(device)

    async def store_device() -> None:
        async with db.write() as conn:
            await conn.execute(update(Client).where(Client.id == checked).values(device=cleaned, last_seen_at=utc_now()))

    if cleaned is not None:
        await retry_busy(store_device)
    async with db.read_session() as session:
        first_seen = (await session.execute(select(Client.first_seen_at).where(Client.id == checked))).scalar_one()
    return Registered(client_id=checked, created_at=first_seen, issued=issued)
