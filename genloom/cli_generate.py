"""``genloom generate``: enqueue an image job and, with --wait, follow its event stream with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from genloom.core.db import utc_now
from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.jobs.models import JobEvent, WorkerRow

if TYPE_CHECKING:
    from genloom.runtime import Runtime

TERMINAL_EVENTS = {"succeeded", "failed", "canceled"}


async def _live_workers(runtime: Runtime) -> int:
    fresh = utc_now() - timedelta(seconds=runtime.settings.lease_seconds)
    async with runtime.db.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).where(WorkerRow.seen_at >= fresh))).scalar() or 0)


async def follow_events(runtime: Runtime, job_id: str, after: int = 0) -> Any:
    """Yield the job's events from the log in order, waiting for new ones (woken by signals, else polling)."""
    last = after
    while True:
        async with runtime.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(JobEvent.id, JobEvent.type, JobEvent.data)
                    .where(JobEvent.job_id == job_id, JobEvent.id > last).order_by(JobEvent.id)
                )
            ).all()
        for row in rows:
            last = row.id
            yield row
            if row.type in TERMINAL_EVENTS:
                return
        if not rows:
            await runtime.signals.wait_events(0.2)


def result_path(runtime: Runtime, url_or_key: str) -> str:
    """Where the stored image is: a file path on the local store, else its URL."""
    if runtime.settings.storage == "local" and url_or_key.startswith("/media/"):
        key = url_or_key.split("?", 1)[0][len("/media/"):]
        return str((Path(runtime.settings.media_root) / key).resolve())
    return url_or_key


async def run_generate(runtime: Runtime, job_input: dict[str, Any], wait: bool) -> int:
    async with runtime.db.session() as session:
        job = await service.create_job(session, runtime, ANONYMOUS, kind="image.generate", input=job_input,
                                       surface="cli")
    click.echo(f"job {job['id']} queued")
    if not wait:
        return 0
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    if await _live_workers(runtime) == 0:
        from genloom.jobs.worker import Worker

        click.echo("no worker is running; running the job in this process")
        worker_task = asyncio.create_task(Worker(runtime, concurrency=1, name="cli").run(stop))
    final: Any = None
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("queued", total=100)
            async for event in follow_events(runtime, job["id"]):
                data = event.data or {}
                label = data.get("phase") or data.get("status") or event.type
                bar.update(task, completed=int(data.get("progress", 0)), description=str(label))
                final = event
    finally:
        stop.set()
        if worker_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker_task, 30)
    if final is None or final.type != "succeeded":
        error = (final.data or {}).get("error", {}) if final is not None else {}
        click.echo(f"job {job['id']} {final.type if final else 'unknown'}: {error.get('message', '')}", err=True)
        return 1
    for image in (final.data.get("result") or {}).get("images", []):
        click.echo(result_path(runtime, image["url"]))
    return 0
