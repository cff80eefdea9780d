"""The offline providers and the provider factory."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from genloom.core.settings import SettingsError
from genloom.providers.base import ChatMessage, ImageProvider, ImageRequest, ProviderError, TextProvider
from genloom.providers.factory import build_providers
from genloom.providers.local.glossary import GLOSSARY
from genloom.providers.local.image import LocalImageProvider
from genloom.providers.local.text import LocalTextProvider, compose, translate
from tests.conftest import make_settings


class TestLocalText:
    def test_glossary_size(self) -> None:
        assert len(GLOSSARY) >= 80
        for zh, en in {"赛博朋克": "cyberpunk", "水彩": "watercolor", "油画": "oil painting", "电影感": "cinematic",
                       "猫": "cat"}.items():
            assert GLOSSARY[zh] == en

    def test_translate_longest_match_and_keeps_unknown(self) -> None:
        assert "watercolor painting" in translate("水彩画")
        assert translate("皮卡丘").strip() == "皮卡丘"
        assert compose("一只赛博朋克风格的猫，电影感") == "a cyberpunk style cat, cinematic"

    def test_compose_dedupes_and_adds_styles(self) -> None:
        assert compose("猫，猫，油画", styles=["油画", "水彩"]) == "cat, oil painting, watercolor"
        assert compose("a cat  in   the rain ,, ") == "a cat in the rain"

    async def test_complete(self) -> None:
        provider = LocalTextProvider()
        assert isinstance(provider, TextProvider)
        result = await provider.complete([
            ChatMessage("system", "Write an image prompt.\nstyle: 水彩"),
            ChatMessage("user", "雨夜的城市街道，霓虹"),
        ])
        assert result.provider == "local" and result.model
        assert result.text == "rainy night city street, neon, watercolor"
        assert result.usage["completion_tokens"] == len(result.text.split())

    async def test_complete_needs_a_user_message(self) -> None:
        with pytest.raises(ProviderError) as info:
            await LocalTextProvider().complete([ChatMessage("system", "hi")])
        assert info.value.code == "empty_prompt" and not info.value.retryable

    async def test_stream_yields_the_completion_word_by_word(self) -> None:
        provider = LocalTextProvider()
        messages = [ChatMessage("user", "一只可爱的小狗在森林里，油画")]
        parts = [part async for part in provider.stream(messages)]
        assert len(parts) > 3
        assert "".join(parts) == (await provider.complete(messages)).text


class TestLocalImage:
    async def test_deterministic_png_at_requested_size(self) -> None:
        provider = LocalImageProvider()
        assert isinstance(provider, ImageProvider)
        request = ImageRequest(prompt="a cyberpunk cat", width=320, height=200, seed=42)
        first = await provider.generate(request)
        second = await provider.generate(request)
        assert first.images[0].data == second.images[0].data
        image = first.images[0]
        assert (image.mime, image.width, image.height, image.seed) == ("image/png", 320, 200, 42)
        with Image.open(io.BytesIO(image.data)) as im:
            assert im.format == "PNG" and im.size == (320, 200)

    async def test_prompt_seed_and_size_change_the_picture(self) -> None:
        provider = LocalImageProvider()

        async def digest(**kw: object) -> str:
            params: dict = {"prompt": "a cat", "width": 128, "height": 128, "seed": 1, **kw}
            return hashlib.sha256((await provider.generate(ImageRequest(**params))).images[0].data).hexdigest()

        base = await digest()
        assert len({base, await digest(seed=2), await digest(prompt="a dog"), await digest(width=130)}) == 4

    async def test_count_and_progress(self) -> None:
        seen: list[tuple[float, str | None]] = []

        async def progress(fraction: float, phase: str | None) -> None:
            seen.append((fraction, phase))

        result = await LocalImageProvider().generate(ImageRequest(prompt="p", width=64, height=64, seed=5, count=3),
                                                     progress=progress)
        assert [m.seed for m in result.images] == [5, 6, 7]
        assert len({m.data for m in result.images}) == 3
        fractions = [f for f, _ in seen]
        assert len(seen) >= 3 * 3 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    async def test_random_seed_when_absent(self) -> None:
        result = await LocalImageProvider().generate(ImageRequest(prompt="p", width=64, height=64))
        assert result.images[0].seed is not None and 0 <= result.images[0].seed < 2**32

    async def test_bad_requests(self) -> None:
        with pytest.raises(ProviderError):
            await LocalImageProvider().generate(ImageRequest(prompt="  ", width=64, height=64))
        with pytest.raises(ProviderError):
            await LocalImageProvider().generate(ImageRequest(prompt="p", width=8, height=64))


class TestFactory:
    def test_local_defaults(self) -> None:
        providers = build_providers(make_settings())
        assert isinstance(providers.text, LocalTextProvider)
        assert isinstance(providers.image, LocalImageProvider)
        assert (providers.video.name, providers.asr.name, providers.vision.name) == ("local", "local", "local")  # type: ignore[union-attr]

    def test_unavailable_provider_refused_at_start(self) -> None:
        # "make" is an image API only: choosing it for speech recognition must fail when providers are built
        with pytest.raises(SettingsError) as info:
            build_providers(make_settings(asr_provider="make"))
        assert "GENLOOM_ASR_PROVIDER" in str(info.value)
