"""Result downloads: streamed, capped, type-checked, and only from safe hosts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from genloom.core.settings import Settings
from genloom.providers.base import ProviderError
from genloom.providers.download import check_url, download
from genloom.providers.resilience import ProviderGuard
from tests.fakes.base import FakeServer
from tests.fakes.dashscope import render_png

PNG = render_png("download", 32, 32)


@pytest.fixture
def result_host() -> Iterator[str]:
    async def image(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    async def text(request: Request) -> Response:
        return Response(b"<html>not an image</html>", media_type="image/png")  # the header lies; the bytes tell

    async def big(request: Request) -> Response:
        return Response(PNG + bytes(10_000), media_type="image/png")

    async def to_private(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", 302)

    async def to_image(request: Request) -> Response:
        return RedirectResponse("/image.png", 302)

    async def flaky(request: Request) -> Response:
        flaky.calls += 1  # type: ignore[attr-defined]
        if flaky.calls == 1:  # type: ignore[attr-defined]
            return Response(b"busy", 503, headers={"Retry-After": "0"})
        return Response(PNG, media_type="image/png")

    flaky.calls = 0  # type: ignore[attr-defined]
    app = Starlette(routes=[
        Route("/image.png", image), Route("/text.png", text), Route("/big.png", big),
        Route("/to-private", to_private), Route("/to-image", to_image), Route("/flaky.png", flaky),
        Route("/gone.png", lambda r: Response(b"<Error>AccessDenied</Error>", 403)),
    ])
    with FakeServer(app) as server:
        yield server.url


@pytest.fixture
def guard() -> ProviderGuard:
    return ProviderGuard("test", max_retries=2, backoff_base=0.0)


async def test_download_from_an_allowed_host(provider_settings: Callable[..., Settings], result_host: str,
                                             guard: ProviderGuard) -> None:
    got = await download(f"{result_host}/image.png", settings=provider_settings(), guard=guard)
    assert got.data == PNG and got.mime == "image/png"


async def test_redirect_within_allowed_host_is_followed(provider_settings: Callable[..., Settings], result_host: str,
                                                        guard: ProviderGuard) -> None:
    got = await download(f"{result_host}/to-image", settings=provider_settings(), guard=guard)
    assert got.data == PNG


async def test_transient_failure_is_retried(provider_settings: Callable[..., Settings], result_host: str,
                                            guard: ProviderGuard) -> None:
    got = await download(f"{result_host}/flaky.png", settings=provider_settings(), guard=guard)
    assert got.data == PNG


async def test_private_address_refused_unless_allow_listed(provider_settings: Callable[..., Settings],
                                                           result_host: str, guard: ProviderGuard) -> None:
    with pytest.raises(ProviderError) as info:
        await download(f"{result_host}/image.png", settings=provider_settings(download_allow_hosts=[]), guard=guard)
    assert info.value.code == "download_refused" and not info.value.retryable
    assert "GENLOOM_DOWNLOAD_ALLOW_HOSTS" in info.value.message


async def test_redirect_to_link_local_is_refused(provider_settings: Callable[..., Settings], result_host: str,
                                                 guard: ProviderGuard) -> None:
    with pytest.raises(ProviderError) as info:
        await download(f"{result_host}/to-private", settings=provider_settings(), guard=guard)
    assert info.value.code == "download_refused"


@pytest.mark.parametrize("url", ["http://10.1.2.3/x.png", "http://[::1]/x.png", "http://192.168.0.7/x.png",
                                 "file:///etc/passwd", "ftp://example.com/x.png", "http://localhost/x.png"])
async def test_check_url_refuses_non_public_targets(url: str) -> None:
    with pytest.raises(ProviderError) as info:
        await check_url(url, provider="p", allow_hosts=[])
    assert info.value.code == "download_refused"


async def test_size_cap(provider_settings: Callable[..., Settings], result_host: str, guard: ProviderGuard) -> None:
    with pytest.raises(ProviderError) as info:
        await download(f"{result_host}/big.png", settings=provider_settings(download_max_bytes=5000), guard=guard)
    assert info.value.code == "download_too_large" and not info.value.retryable


async def test_type_is_sniffed_not_trusted(provider_settings: Callable[..., Settings], result_host: str,
                                           guard: ProviderGuard) -> None:
    with pytest.raises(ProviderError) as info:
        await download(f"{result_host}/text.png", settings=provider_settings(), guard=guard)
    assert info.value.code == "download_bad_type"


async def test_expired_url(provider_settings: Callable[..., Settings], result_host: str, guard: ProviderGuard) -> None:
    with pytest.raises(ProviderError) as info:
        await download(f"{result_host}/gone.png", settings=provider_settings(), guard=guard)
    assert info.value.code == "result_expired" and not info.value.retryable
