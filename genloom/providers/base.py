"""Provider capabilities as typed protocols, and the error every client raises.

Pipelines depend on these protocols only; which implementation serves a capability is chosen in settings
(``GENLOOM_TEXT_PROVIDER`` …). Providers know nothing of jobs, features or surfaces.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from genloom.core.errors import UpstreamError
from genloom.core.settings import Settings

#: progress callback: (fraction 0.0–1.0, phase name or None)
ProgressFn = Callable[[float, str | None], Awaitable[None]]


class ProviderError(UpstreamError):
    """The provider failed."""

    default_code = "provider_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str = "",
        retryable: bool = False,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable, retry_after=retry_after, **kw)
        self.provider = provider
        self.http_status = status


#: an absolute path on the provider's host (POSIX ``/opt/ComfyUI/models/x.safetensors`` or Windows ``C:\\…\\x``),
#: not the path of a URL (``http://host/view``: preceded by a host) nor a ratio such as ``1/2``
_HOST_PATH = re.compile(
    r"(?<![\w.:/])(?:/[\w.@+-]+)+/?|\b[A-Za-z]:\\(?:[^\\\s'\",;:]+\\)+[^\\\s'\",;:]*"
)


def strip_host_paths(text: str) -> str:
    """``text`` with absolute file paths of the provider's host cut to their last segment (``…/x.safetensors``).

    Error text a provider sends (ComfyUI's "Value not in list: … /models/checkpoints/x.safetensors", a traceback
    line) names where the operator keeps things; clients get the file name, the logs keep the full text."""

    def last_segment(match: re.Match[str]) -> str:
        path = match.group(0).rstrip("/\\")
        return "…/" + re.split(r"[/\\]", path)[-1]

    return _HOST_PATH.sub(last_segment, text)


class ProviderUnavailable(ProviderError):
    """The provider is unavailable (circuit open)."""

    default_code = "provider_unavailable"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("outage", True)  # refused without a call: the provider as a whole is down
        super().__init__(message, **kw)


@dataclass(slots=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(slots=True)
class TextResult:
    text: str
    provider: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class TextChunk:
    """One piece of a streamed chat answer: text as the provider sent it, and on the last pieces why it stopped
    (``stop``, ``length``…) and the token usage the provider reported."""

    delta: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] | None = None


@dataclass(slots=True)
class ImageRequest:
    prompt: str
    negative_prompt: str = ""
    width: int = 1024
    height: int = 1024
    seed: int | None = None
    count: int = 1
    steps: int | None = None
    workflow: str | None = None  # ComfyUI template name
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the caller named no size: ``width``/``height`` are the 1024×1024 fallback, and a provider with its own
    #: notion of a default size (a ComfyUI template's ``defaults``) uses that instead
    size_is_default: bool = False


@dataclass(slots=True)
class GeneratedMedia:
    """Bytes a provider produced (already downloaded: provider URLs expire and never reach clients)."""

    data: bytes
    mime: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    seed: int | None = None


@dataclass(slots=True)
class ImageResult:
    images: list[GeneratedMedia]
    provider: str
    model: str
    revised_prompt: str | None = None


@dataclass(slots=True)
class VideoRequest:
    prompt: str
    image: bytes | None = None
    image_mime: str | None = None
    duration_s: float = 5.0
    ratio: str = "16:9"
    resolution: str = "720p"
    seed: int | None = None
    model: str | None = None
    #: a URL the provider can fetch the first frame from, sent instead of the bytes (a presigned GET URL)
    image_url: str | None = None
    #: poll this earlier task of the provider instead of submitting a new one (a retry that must not pay twice)
    resume_task_id: str | None = None
    #: called with the provider's task id right after submitting, so the caller can record it
    on_submitted: Callable[[str], Awaitable[None]] | None = None


@dataclass(slots=True)
class VideoResult:
    video: GeneratedMedia
    provider: str
    model: str
    #: the provider's task id, for providers that run tasks
    task_id: str | None = None


@dataclass(slots=True)
class AsrRequest:
    audio: bytes | None = None
    audio_mime: str | None = None
    audio_url: str | None = None  # a URL the provider can fetch (presigned)
    language: str | None = None
    transcript_hint: str | None = None  # a transcript the client already has (local provider uses it)


@dataclass(slots=True)
class AsrResult:
    text: str
    provider: str
    model: str


@dataclass(slots=True)
class VisionRequest:
    image: bytes
    image_mime: str
    instruction: str
    schema_hint: dict[str, Any] | None = None


@dataclass(slots=True)
class VisionResult:
    data: dict[str, Any]
    provider: str
    model: str


@runtime_checkable
class TextProvider(Protocol):
    name: str

    async def complete(self, messages: list[ChatMessage], *, temperature: float = 0.7, max_tokens: int | None = None) -> TextResult: ...

    def stream(self, messages: list[ChatMessage], *, temperature: float = 0.7, max_tokens: int | None = None) -> AsyncIterator[str]: ...


async def stream_chunks(provider: TextProvider, messages: list[ChatMessage], *, temperature: float = 0.7,
                        max_tokens: int | None = None) -> AsyncIterator[TextChunk]:
    """The provider's answer as :class:`TextChunk` s: its own ``stream_chunks`` when it has one (finish reason and
    usage included), else its ``stream`` of text pieces followed by a bare ``stop``."""
    richer = getattr(provider, "stream_chunks", None)
    if richer is not None:
        async for chunk in richer(messages, temperature=temperature, max_tokens=max_tokens):
            yield chunk
        return
    async for piece in provider.stream(messages, temperature=temperature, max_tokens=max_tokens):
        yield TextChunk(delta=piece)
    yield TextChunk(finish_reason="stop")


@runtime_checkable
class ImageProvider(Protocol):
    name: str

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult: ...


@runtime_checkable
class VideoProvider(Protocol):
    name: str

    async def generate(self, request: VideoRequest, *, progress: ProgressFn | None = None) -> VideoResult: ...


@runtime_checkable
class AsrProvider(Protocol):
    name: str

    async def transcribe(self, request: AsrRequest) -> AsrResult: ...


@runtime_checkable
class VisionProvider(Protocol):
    name: str

    async def analyze(self, request: VisionRequest) -> VisionResult: ...


@dataclass(slots=True)
class Providers:
    """The provider chosen for each capability, built once per process from settings."""

    text: TextProvider
    image: ImageProvider
    video: VideoProvider | None = None
    asr: AsrProvider | None = None
    vision: VisionProvider | None = None
    #: name -> object with a ``status()`` dict (circuit breaker state…), for GET /v1/providers
    health: dict[str, Any] = field(default_factory=dict)

    async def aclose(self) -> None:
        for provider in {id(p): p for p in (self.text, self.image, self.video, self.asr, self.vision) if p}.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()


def missing_settings(settings: Settings, required: dict[str, str]) -> list[str]:
    """The names (values of ``required``) of the settings (its keys) left empty: a remote provider's
    ``required_settings`` for the credentials every one of its capabilities needs."""
    return [name for field, name in required.items() if not getattr(settings, field)]
