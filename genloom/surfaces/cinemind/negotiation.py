"""Content negotiation for ``GET /results/{graphId}``: image bytes for ``Accept: image/*``, JSON otherwise."""

from __future__ import annotations


def _ranges(accept: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media.lower(), q))
    return out


def wants_image(accept: str | None, mime: str) -> bool:
    """True when the client prefers the image (``image/*`` or ``mime`` itself) over JSON.

    ``*/*`` alone (browsers' and curl's default) means JSON; an explicit image range wins unless JSON is
    asked for with a higher quality."""
    if not accept:
        return False
    image_q = json_q = 0.0
    for media, q in _ranges(accept):
        if media in ("image/*", mime.lower()):
            image_q = max(image_q, q)
        elif media in ("application/json", "application/*"):
            json_q = max(json_q, q)
    return image_q > 0 and image_q >= json_q
