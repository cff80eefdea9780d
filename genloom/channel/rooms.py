"""Room names and who may use them.

    article:{id}   readers of the article may join; its editors (author, collaborators, admins) may publish
    user:{id}      that user's own devices only (job events of the user's jobs arrive there too)

Names starting with ``_`` are the channel's own (connection replacement) and refused to clients.
"""

from __future__ import annotations

from genloom.articles import service as articles
from genloom.core.db import Database
from genloom.core.ids import is_uuid
from genloom.core.principal import Principal

MAX_ROOM_CHARS = 160


class RoomRefused(Exception):
    """The caller may not use this room (or it does not exist); ``code`` is the error frame's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def replacement_room(user_id: str, client_id: str) -> str:
    """Where a new connection announces itself, so an older one with the same client id closes, anywhere."""
    return f"_client:{user_id}:{client_id}"


async def authorize(db: Database, principal: Principal, room: object, *, publish: bool) -> str:
    """The room name if ``principal`` may join it (``publish``: and publish to it); RoomRefused otherwise."""
    if not isinstance(room, str) or not room or len(room) > MAX_ROOM_CHARS:
        raise RoomRefused("invalid_room", "room must be a string of 1-160 characters")
    kind, _, ident = room.partition(":")
    if kind == "user":
        if principal.user_id is None or ident != principal.user_id:
            raise RoomRefused("room_forbidden", "you may only join your own user room")
        return room
    if kind == "article" and is_uuid(ident):
        async with db.read_session() as session:
            allowed = await (articles.can_write if publish else articles.can_read)(session, principal, ident)
        if not allowed:
            raise RoomRefused("room_forbidden", "you may not publish to this article's room" if publish
                              else "no readable article for this room")
        return room
    raise RoomRefused("invalid_room", "rooms are article:{id} and user:{id}")
