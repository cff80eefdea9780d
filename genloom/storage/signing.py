"""Signed, expiring media URLs for the local store: ``/media/<key>?exp=<unix>&sig=<hex>``.

The signature is HMAC-SHA256 over the method, key, expiry and (for uploads) the allowed type and size, with a
key derived from ``settings.secret_key`` for this one purpose (so a media signature can never be replayed as
anything else). Verification is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from genloom.storage.errors import InvalidSignature

_PURPOSE = b"genloom.media.v1"
#: Long-lived URLs expire on a boundary of this many seconds, so the same file gets the same URL for a while:
#: browsers and proxies can cache it, and a message re-sent a second later carries an identical URL.
EXPIRY_BUCKET_S = 300


class UrlSigner:
    def __init__(self, secret: str, *, base_url: str = "", prefix: str = "/media") -> None:
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix.rstrip("/")

    def signature(self, key: str, exp: int, *, method: str = "GET", mime: str = "", max_bytes: int | None = None) -> str:
        message = "\n".join((method.upper(), key, str(exp), mime, "" if max_bytes is None else str(max_bytes)))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, key: str, *, expires_s: int, method: str = "GET", mime: str = "", max_bytes: int | None = None,
             now: float | None = None) -> tuple[str, int]:
        """The signed URL for ``key`` and its expiry (unix seconds): at least ``expires_s`` from now, rounded up
        to the next bucket boundary when ``expires_s`` is long enough for that to matter."""
        exp = int(now if now is not None else time.time()) + int(expires_s)
        if expires_s >= EXPIRY_BUCKET_S:
            exp = -(-exp // EXPIRY_BUCKET_S) * EXPIRY_BUCKET_S
        sig = self.signature(key, exp, method=method, mime=mime, max_bytes=max_bytes)
        query = f"exp={exp}&sig={sig}"
        if max_bytes is not None:
            query += f"&max={max_bytes}"
        return f"{self.base_url}{self.prefix}/{key}?{query}", exp

    def verify(self, key: str, exp: str | None, sig: str | None, *, method: str = "GET", mime: str = "",
               max_bytes: int | None = None, now: float | None = None) -> None:
        """Raise InvalidSignature unless ``sig`` signs this request and ``exp`` has not passed."""
        if not exp or not sig:
            raise InvalidSignature("this media URL is not signed", field="sig")
        try:
            exp_at = int(exp)
        except ValueError:
            raise InvalidSignature("the media URL's expiry is not valid", field="exp") from None
        expected = self.signature(key, exp_at, method=method, mime=mime, max_bytes=max_bytes)
        # bytes, not str: compare_digest refuses non-ASCII text (a TypeError, so a 500) and a signature is hex
        if not hmac.compare_digest(expected.encode(), sig.lower().encode("utf-8", "replace")):
            raise InvalidSignature("the media URL's signature is not valid", field="sig")
        if exp_at < int(now if now is not None else time.time()):
            raise InvalidSignature("the media URL has expired", code="signature_expired", field="exp")
