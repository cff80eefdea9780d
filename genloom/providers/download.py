"""Fetching the media a provider produced: streamed, size-capped, type-checked, and only from hosts it is safe
to reach.

Provider result URLs are signed links that expire (DashScope and Ark: 24 h, OpenAI dall-e: 60 min), so results
are downloaded at once and stored; the URL never reaches a client. Because the URL comes from a remote answer,
it is treated as untrusted: only http(s), redirects followed by hand (at most five) and every hop's host
resolved and refused when it is private, loopback, link-local or otherwise non-public — unless the host is in
``settings.download_allow_hosts`` (a self-hosted ComfyUI on the LAN, the test fakes on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from genloom.core.settings import Settings
from genloom.providers.base import ProviderError
from genloom.providers.http import error_for, make_client
from genloom.providers.resilience import Attempt, ProviderGuard
from genloom.storage.mime import sniff_mime

MAX_REDIRECTS = 5
#: statuses a result host answers once a signed URL has expired or its object is gone
EXPIRED_STATUSES = frozenset({401, 403, 404, 410})


@dataclass(slots=True)
class Downloaded:
    data: bytes
    mime: str


def _refuse(provider: str, message: str, code: str = "download_refused") -> ProviderError:
    return ProviderError(f"{provider}: {message}", provider=provider, code=code, retryable=False)


def host_allowed(host: str, allow_hosts: list[str]) -> bool:
    host = host.lower().strip("[]")
    return any(host == h.lower().strip("[]") for h in allow_hosts)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, provider: str, allow_hosts: list[str]) -> None:
    """Raise unless ``url`` is http(s) and its host is allow-listed or resolves only to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(provider, f"refusing to download a {parts.scheme or 'relative'} URL")
    host = parts.hostname
    if host_allowed(host, allow_hosts):
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise ProviderError(f"{provider}: cannot resolve the result host", provider=provider,
                            code="provider_connection", retryable=True) from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_is_public(a) for a in addresses):
        raise _refuse(provider, f"refusing to download from non-public address of host {host!r} "
                                "(add it to GENLOOM_DOWNLOAD_ALLOW_HOSTS to allow it)")


def _mime_ok(mime: str, accept: tuple[str, ...]) -> bool:
    return not accept or any(mime == a or (a.endswith("/") and mime.startswith(a)) for a in accept)


async def download(
    url: str,
    *,
    settings: Settings,
    guard: ProviderGuard,
    client: httpx.AsyncClient | None = None,
    accept: tuple[str, ...] = ("image/",),
    max_bytes: int | None = None,
    operation: str = "download",
) -> Downloaded:
    """Download ``url`` (retrying transient failures through ``guard``) and return its bytes and sniffed type.

    Raises a non-retryable ProviderError for: an expired/missing result (``result_expired``), a refused host
    (``download_refused``), a body over the cap (``download_too_large``), or bytes of an unexpected type
    (``download_bad_type``).
    """
    provider = guard.provider
    cap = max_bytes or settings.download_max_bytes
    allow = list(settings.download_allow_hosts)
    own = client is None
    http = client or make_client(settings)

    async def attempt(at: Attempt) -> Downloaded:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(current, provider=provider, allow_hosts=allow)
            async with http.stream("GET", current, follow_redirects=False) as response:
                at.status = response.status_code
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise _refuse(provider, "redirect without a Location")
                    current = urljoin(current, location)
                    continue
                if response.status_code in EXPIRED_STATUSES:
                    raise ProviderError(f"{provider}: the result URL has expired or is gone "
                                        f"(HTTP {response.status_code})", provider=provider,
                                        status=response.status_code, code="result_expired", retryable=False)
                if not response.is_success:
                    await response.aread()
                    raise error_for(provider, response)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise _refuse(provider, f"result is larger than {cap} bytes", "download_too_large")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise _refuse(provider, f"result is larger than {cap} bytes", "download_too_large")
                    chunks.append(chunk)
            data = b"".join(chunks)
            mime = sniff_mime(data[:64]) or "application/octet-stream"
            if not _mime_ok(mime, accept):
                raise _refuse(provider, f"result is {mime}, expected {', '.join(accept)}", "download_bad_type")
            return Downloaded(data=data, mime=mime)
        raise _refuse(provider, f"more than {MAX_REDIRECTS} redirects")

    try:
        return await guard.run(operation, attempt, idempotent=True)
    finally:
        if own:
            await http.aclose()


def image_dimensions(data: bytes) -> tuple[int | None, int | None]:
    """(width, height) of image bytes, or (None, None) when Pillow cannot read them (the pipeline probes again)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.width, img.height
    except Exception:  # noqa: BLE001 - any decoder failure means "unknown"
        return None, None
