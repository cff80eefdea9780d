"""``artwork.generate``: a drawing and its narration → transcript → story → animated video, as one durable job.

Phases: ``transcribing`` (the job's text, else the artwork's stored or corrected transcript, else speech
recognition of its recording), ``writing`` (the text provider writes the story and the video prompt),
``generating`` (the video provider animates the drawing, the drawing as first frame), ``compositing`` (the MP4
is decoded for its size and duration, a poster frame is made, both are stored under the artwork's keys, the
artwork becomes ``ready`` and an analysis job is queued, in one transaction).

Every phase writes what it produced to the job's ``artwork_generations`` row before the next one starts, and a
phase whose output is there is skipped: a retry resumes at the first unfinished phase, and a transcript or a
story is never paid for twice. The video provider's task id is recorded the moment it is submitted, so a retry
(or ``capture``) polls that task again instead of starting — and paying for — a second video; only when the
provider says the task or its result is gone does the next attempt submit anew.

No transaction is open while a provider works or bytes travel (the two-phase writes of media.service).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from genloom.artworks.models import Artwork, Generation, Upload
from genloom.artworks.story import write_story
from genloom.artworks.uploads import claim_key
from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.principal import CLIENT_PREFIX, Principal
from genloom.jobs import enqueueing
from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.jobs.runtime import Runtime
from genloom.media import images
from genloom.media import service as media_service
from genloom.media.errors import InvalidMedia
from genloom.pipelines.inputs import load_owned_asset, require_provider
from genloom.pipelines.video_media import probe_video_async
from genloom.providers.base import AsrRequest, ProviderError, VideoRequest

KIND = "artwork.generate"
#: registered by genloom.growth.analysis; queued when the video is stored
ANALYSIS_KIND = "artwork.analyze"
PHASES = ("queued", "transcribing", "writing", "generating", "compositing", "completed", "failed")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_AUDIO_BYTES = 100 * 1024 * 1024
AUDIO_URL_SECONDS = 3 * 3600
VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm")
#: codes meaning the provider's task (or its result) no longer exists: a retry must submit a new task
#: (provider_timeout: the task expired upstream, or it was cancelled when the wait for it ran out)
TASK_GONE = frozenset({"result_expired", "provider_canceled", "provider_timeout"})
GENERATING_FROM, GENERATING_TO = 40, 85


class GenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artwork_id: str = Field(min_length=1, max_length=36)


def principal_of(owner_id: str) -> Principal:
    if not owner_id.startswith(CLIENT_PREFIX):
        raise InvalidInput("artwork generation needs an anonymous client owner", code="client_id_required")
    return Principal.for_client(owner_id[len(CLIENT_PREFIX):])


async def _save(runtime: Runtime, job_id: str, **values: Any) -> None:
    async with runtime.db.write() as conn:
        await conn.execute(update(Generation).where(Generation.job_id == job_id).values(**values, updated_at=utc_now()))


async def _load(runtime: Runtime, job_id: str, owner_id: str) -> tuple[Generation, Artwork]:
    async with runtime.db.read_session() as session:
        gen = await session.get(Generation, job_id)
        artwork = await session.get(Artwork, gen.artwork_id) if gen is not None else None
        if gen is None or artwork is None or artwork.owner_id != owner_id or gen.owner_id != owner_id:
            raise InvalidInput("the artwork of this job no longer exists", code="artwork_not_found",
                               field="artworkId")
        session.expunge_all()  # plain objects from here on; the session closes before any provider is called
    return gen, artwork


async def _transcribe(ctx: JobContext, gen: Generation, artwork: Artwork) -> tuple[str, str]:
    """(transcript, source). The job's text and a stored transcript (the client's or the parent's correction)
    win over speech recognition: children's speech is often misheard, and a correction must stick."""
    if gen.text and gen.text.strip():
        return gen.text.strip(), "client"
    if artwork.transcript and artwork.transcript.strip():
        return artwork.transcript.strip(), artwork.transcript_source or "client"
    if not artwork.audio_asset_id:
        raise InvalidInput("the artwork has no recording and no transcript: send text with the job, or PATCH the "
                           "artwork's transcript", code="narration_missing", field="text")
    runtime = ctx.runtime
    provider = require_provider(runtime.providers.asr, code="asr_unavailable", what="speech recognition",
                                setting="GENLOOM_ASR_PROVIDER")
    audio = await load_owned_asset(ctx, artwork.audio_asset_id, field="audioAssetId",
                                   mime_prefixes=("audio/", "video/"), what="audio", max_bytes=MAX_AUDIO_BYTES)
    request = AsrRequest(audio=audio.data, audio_mime=audio.mime, language="zh")
    signed = runtime.blobs.presign_get(audio.key, expires_s=AUDIO_URL_SECONDS)
    if signed.startswith(("http://", "https://")):
        request.audio_url = signed
    result = await provider.transcribe(request)
    text = result.text.strip()
    if not text:
        raise ProviderError("speech recognition heard nothing in the recording", provider=result.provider,
                            code="transcript_empty", retryable=False)
    return text, "asr"


async def _generate_video(ctx: JobContext, gen: Generation, artwork: Artwork) -> Any:
    runtime = ctx.runtime
    settings = runtime.settings
    provider = require_provider(runtime.providers.video, code="video_unavailable", what="video",
                                setting="GENLOOM_VIDEO_PROVIDER")
    if not artwork.cover_asset_id:
        raise InvalidInput("the artwork has no drawing", code="cover_required", field="coverAssetId")
    cover = await load_owned_asset(ctx, artwork.cover_asset_id, field="coverAssetId", mime_prefixes=("image/",),
                                   what="a picture", max_bytes=MAX_IMAGE_BYTES)
    image_url = None
    if settings.huaban_image_transport == "url":
        signed = runtime.blobs.presign_get(cover.key, expires_s=3600)
        image_url = signed if signed.startswith(("http://", "https://")) else None

    async def submitted(task_id: str) -> None:
        await _save(runtime, ctx.job_id, provider_task_id=task_id)

    async def on_progress(fraction: float, _phase: str | None) -> None:
        await ctx.report(GENERATING_FROM + (GENERATING_TO - GENERATING_FROM) * max(0.0, min(1.0, fraction)))

    request = VideoRequest(prompt=gen.video_prompt or "", image=cover.data, image_mime=cover.mime,
                           image_url=image_url, duration_s=float(settings.huaban_video_duration_s), ratio="adaptive",
                           resolution=settings.huaban_video_resolution, resume_task_id=gen.provider_task_id,
                           on_submitted=submitted)
    try:
        return await provider.generate(request, progress=on_progress)
    except ProviderError as exc:
        if task_is_over(exc):
            # the task ended for good (failed, expired, cancelled, its result gone) or was cancelled when we gave
            # up waiting: the next attempt submits a new one. Other errors (the polls failed) keep the task.
            await _save(runtime, ctx.job_id, provider_task_id=None)
        raise


def task_is_over(exc: ProviderError) -> bool:
    return not exc.retryable or exc.code in TASK_GONE or exc.http_status == 404


async def _store_video(ctx: JobContext, gen: Generation, artwork: Artwork, data: bytes,
                       duration_hint: int | None) -> dict[str, Any]:
    """Write the clip and its poster under the artwork's keys, then record everything in one transaction."""
    runtime = ctx.runtime
    info = await probe_video_async(data)
    media = await images.probe_async(data)
    if media.mime not in VIDEO_MIMES:
        raise InvalidMedia(f"the provider returned {media.mime}, not a video", field="video")
    poster = await images.thumbnail_async(info.poster_png, max_side=1024)
    principal = principal_of(ctx.owner_id)
    async with runtime.db.session() as session:  # claim the versions first (pending until the final commit)
        video_key = (await claim_key(session, principal, artwork.id, "video", media.mime, len(data))).key
        poster_key = (await claim_key(session, principal, artwork.id, "thumb", poster.mime, len(poster.data))).key
    video_info = images.MediaInfo(mime=media.mime, size=media.size, sha256=media.sha256, width=info.width,
                                  height=info.height)
    poster_info = images.MediaInfo(mime=poster.mime, size=len(poster.data), sha256=images.sha256_hex(poster.data),
                                   width=poster.width, height=poster.height)
    written: list[media_service.PendingAsset] = []
    try:
        video = await media_service.write_blob(runtime.blobs, owner_id=ctx.owner_id, data=data, kind="video",
                                               key=video_key, job_id=ctx.job_id, info=video_info)
        written.append(video)
        thumb = await media_service.write_blob(runtime.blobs, owner_id=ctx.owner_id, data=poster.data, kind="thumb",
                                               key=poster_key, job_id=ctx.job_id, info=poster_info,
                                               derived_from=video.id)
        written.append(thumb)
        await ctx.report(95)
        async with runtime.db.session() as session:
            row = video.to_row()
            row.duration_ms = info.duration_ms or duration_hint
            session.add(row)
            await session.flush()
            session.add(thumb.to_row())
            await session.flush()
            for key, asset_id in ((video_key, video.id), (poster_key, thumb.id)):
                await session.execute(update(Upload).where(Upload.key == key).values(state="committed",
                                                                                     asset_id=asset_id))
            now = utc_now()
            await session.execute(update(Generation).where(Generation.job_id == ctx.job_id).values(
                video_asset_id=video.id, poster_asset_id=thumb.id, updated_at=now))
            await session.execute(update(Artwork).where(Artwork.id == artwork.id).values(
                video_asset_id=video.id, poster_asset_id=thumb.id, status="ready", story=gen.story,
                video_prompt=gen.video_prompt, updated_at=now))
            await enqueueing.enqueue(session, runtime, kind=ANALYSIS_KIND, input={"artwork_id": artwork.id},
                                owner_id=ctx.owner_id, surface="huaban")
    except BaseException:
        await media_service.discard(runtime.blobs, written)
        raise
    return {"video_asset_id": video.id, "poster_asset_id": thumb.id, "duration_ms": row.duration_ms}


async def run(ctx: JobContext) -> dict[str, Any]:
    GenerateInput.model_validate(ctx.input)
    runtime = ctx.runtime
    gen, artwork = await _load(runtime, ctx.job_id, ctx.owner_id)

    await ctx.set_phase("transcribing", 5)
    if gen.transcript is None:
        transcript, source = await _transcribe(ctx, gen, artwork)
        gen.transcript, gen.transcript_source = transcript, source
        await _save(runtime, ctx.job_id, transcript=transcript, transcript_source=source)
        if source == "asr":  # keep what was heard on the artwork, where a parent can correct it
            async with runtime.db.write() as conn:
                await conn.execute(update(Artwork).where(Artwork.id == artwork.id, Artwork.transcript.is_(None))
                                   .values(transcript=transcript, transcript_source="asr", updated_at=utc_now()))

    await ctx.set_phase("writing", 25)
    if gen.story is None or gen.video_prompt is None:
        written = await write_story(runtime.providers.text, gen.transcript or "", title=artwork.title)
        gen.story, gen.video_prompt = written.story, written.video_prompt
        await _save(runtime, ctx.job_id, story=written.story, video_prompt=written.video_prompt)

    await ctx.set_phase("generating", GENERATING_FROM)
    provider_name = model = None
    if gen.video_asset_id is None:
        generated = await _generate_video(ctx, gen, artwork)
        provider_name, model = generated.provider, generated.model
        await ctx.set_phase("compositing", GENERATING_TO)
        stored = await _store_video(ctx, gen, artwork, generated.video.data, generated.video.duration_ms)
    else:
        await ctx.set_phase("compositing", GENERATING_TO)
        stored = {"video_asset_id": gen.video_asset_id, "poster_asset_id": gen.poster_asset_id}
    await ctx.report(99)
    return {"artwork_id": artwork.id, **stored, "provider": provider_name, "model": model,
            "transcript_source": gen.transcript_source}


async def generation_of(runtime: Runtime, job_id: str) -> Generation | None:
    async with runtime.db.read_session() as session:
        row: Generation | None = (await session.execute(
            select(Generation).where(Generation.job_id == job_id))).scalar_one_or_none()
        return row


def register(kinds: KindRegistry) -> None:
    # one at a time per worker slot pair: downloading and decoding clips is heavy, like video.generate
    kinds.register(JobKind(KIND, run, GenerateInput, concurrency=2))
