"""The ``genloom`` command: serve, worker, migrate, janitor, jobs, generate, openapi (+ feature commands)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from genloom.cinemind import cli as cinemind_cli
from genloom.clitools import settings_from
from genloom.core.settings import Settings, SettingsError, load_settings
from genloom.identity import cli as identity_cli
from genloom.ops import cli as ops_cli
from genloom.search import cli as search_cli

T = TypeVar("T")
DEFAULT_POSTMAN = Path("docs/genloom.postman_collection.json")

_settings = settings_from


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_fn())  # type: ignore[arg-type]


class _Genloom(click.Group):
    """The command group; a schema the code cannot use ends any command with its one line, not a traceback.
    Aliases run their command but are not listed again in ``--help`` (the command's help names them)."""

    ALIASES = {"init-db": "migrate"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))

    def invoke(self, ctx: click.Context) -> Any:
        from genloom.core.migrate import SchemaNotAtHead

        try:
            return super().invoke(ctx)
        except SchemaNotAtHead as exc:
            click.echo(f"genloom: {exc}", err=True)
            sys.exit(1)


async def _ensure_schema(settings: Settings) -> None:
    """Before a server or worker starts: schema to head (GENLOOM_DB_AUTO_MIGRATE), or SchemaNotAtHead."""
    from genloom.core.db import Database
    from genloom.core.migrate import ensure_schema
    from genloom.core.outage import is_database_unavailable

    db = Database(settings)
    try:
        await ensure_schema(db.engine, auto_migrate=settings.db_auto_migrate)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        # the start-up goes on and says so (genloom.assembly.start_runtime): an outage is not a refusal
    finally:
        await db.dispose()


@click.group(cls=_Genloom)
@click.version_option(package_name="genloom", prog_name="genloom", message="%(prog)s %(version)s")
@click.option("--env", "env", default=None, help="Layer .env.<ENV> over .env (dev, prod, test).")
@click.pass_context
def main(ctx: click.Context, env: str | None) -> None:
    """genloom: durable AI generation jobs, media and live progress for creative apps."""
    ctx.ensure_object(dict)
    ctx.obj["env"] = env


@main.command()
@click.option("--host", default=None, help="Bind address (default from HOST / GENLOOM_HOST).")
@click.option("--port", type=int, default=None, help="Port (default from PORT / GENLOOM_PORT).")
@click.option("--workers", type=int, default=None, help="Embedded worker slots; 0 turns them off.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP API (with embedded workers unless --workers 0)."""
    import uvicorn

    from genloom.app import create_app
    from genloom.providers.factory import build_providers
    from genloom.providers.resilience import GuardRegistry
    from genloom.serving import GracefulServer

    settings = _settings(ctx, host=host, port=port, workers=workers)
    try:
        build_providers(settings, GuardRegistry(settings))  # a provider without its key stops start-up here
    except SettingsError as exc:
        click.echo(f"genloom: {exc}", err=True)
        sys.exit(2)
    from genloom.core.logging import configure_logging
    from genloom.system.startup import quiet_startup_chatter

    configure_logging(settings)  # before uvicorn starts, so its first lines use our format too
    quiet_startup_chatter()
    # here rather than in the app's start-up, so that a refusal is one line and not uvicorn's traceback
    _run(lambda: _ensure_schema(settings))
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None,
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_grace_seconds)),
        # Our WebSocket frames are small JSON; per-message deflate costs ~40 KB of state per socket
        # (bench/ws.py: 10,000 idle sockets take 1,006 MB with it, 612 MB without).
        ws_per_message_deflate=False,
    )
    # SIGTERM: live clients are told to reconnect elsewhere, then in-flight requests and workers drain
    GracefulServer(config, app, settings.shutdown_grace_seconds).run()


@main.command()
@click.option("--concurrency", "-c", type=int, default=4, show_default=True, help="Jobs run at once.")
@click.option("--kinds", default=None, help="Comma-separated job kinds to run (default: all).")
@click.pass_context
def worker(ctx: click.Context, concurrency: int, kinds: str | None) -> None:
    """Run a worker process. SIGTERM/SIGINT drain gracefully."""
    settings = _settings(ctx)
    _run(lambda: _ensure_schema(settings))

    async def go() -> None:
        # First thing: a SIGTERM that arrives during start-up must stop the worker cleanly, not kill it.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        from genloom.assembly import build_runtime, start_runtime
        from genloom.core.logging import configure_logging
        from genloom.jobs.janitor import run_janitor_forever
        from genloom.jobs.worker import Worker
        from genloom.system.startup import quiet_startup_chatter

        configure_logging(settings)
        quiet_startup_chatter()
        runtime = build_runtime(settings)
        await start_runtime(runtime)
        w = Worker(runtime, concurrency=concurrency, name="worker", kinds=kinds.split(",") if kinds else None)
        janitor = asyncio.create_task(run_janitor_forever(runtime, stop))
        probes = asyncio.create_task(runtime.probes.run(stop))  # breakers learn of a provider outage early
        try:
            await w.run(stop)
        finally:
            await w.shutdown(settings.shutdown_grace_seconds)
            stop.set()
            with contextlib.suppress(Exception):
                await janitor
            with contextlib.suppress(Exception):
                await probes
            await runtime.close()

    _run(go)


async def _with_runtime(settings: Settings, fn: Callable[[Any], Awaitable[T]], *, migrate: bool | None = None) -> T:
    from genloom.assembly import build_runtime, start_runtime

    runtime = build_runtime(settings)
    try:
        await start_runtime(runtime, migrate=migrate)
        return await fn(runtime)
    finally:
        await runtime.close()


@main.command()
@click.option("--revision", default="heads", show_default=True)
@click.pass_context
def migrate(ctx: click.Context, revision: str) -> None:
    """Upgrade the database schema (alias: init-db)."""
    settings = _settings(ctx)

    async def go() -> None:
        from genloom.core.db import Database
        from genloom.core.migrate import upgrade

        db = Database(settings)
        try:
            await upgrade(db.engine, revision)
        finally:
            await db.dispose()

    _run(go)
    click.echo(f"database at {revision}")



@main.command()
@click.option("--older-than-hours", type=float, default=None, help="Retention age (default GENLOOM_RETENTION_HOURS).")
@click.pass_context
def janitor(ctx: click.Context, older_than_hours: float | None) -> None:
    """Rescue lapsed leases, prune finished jobs past retention, sweep HuaBan's leftovers and media objects no
    asset names (older than GENLOOM_MEDIA_ORPHAN_AGE_HOURS), once."""
    from genloom.jobs import janitor as jan

    settings = _settings(ctx)

    async def go(rt: Any) -> dict[str, Any]:
        from genloom.artworks import janitor as huaban_janitor
        from genloom.media.sweep import sweep_orphans
        from genloom.ratelimits.limiter import build_limiter

        rescued = await jan.rescue_expired(rt)
        age = timedelta(hours=older_than_hours) if older_than_hours is not None else None
        pruned = await jan.prune(rt, older_than=age)
        # HuaBan's leftovers: uploads never committed, reserved artwork ids, orphan objects, expired counters
        limiter = build_limiter(rt.db, use_redis=settings.use_redis, redis_url=settings.redis_url,
                                redis_prefix=settings.redis_prefix)
        try:
            swept = await huaban_janitor.sweep(rt, limiter)
        finally:
            await limiter.aclose()
        media = await sweep_orphans(rt.db, rt.blobs, rt.settings)
        return {"rescued": rescued, "pruned": pruned, "huaban": swept, "media": media}

    click.echo(json.dumps(_run(lambda: _with_runtime(settings, go))))


@main.group()
def jobs() -> None:
    """Inspect and control jobs."""


@jobs.command("list")
@click.option("--status", default=None)
@click.option("--kind", default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
def jobs_list(ctx: click.Context, status: str | None, kind: str | None, limit: int) -> None:
    """List recent jobs."""
    from genloom.core.principal import SYSTEM
    from genloom.jobs import service

    settings = _settings(ctx)

    async def go(rt: Any) -> list[dict[str, Any]]:
        async with rt.db.read_session() as s:
            items, _ = await service.list_jobs(s, SYSTEM, status=status, kind=kind, limit=limit)
            return items

    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in (("ID", "left"), ("KIND", "left"), ("STATUS", "left"), ("PHASE", "left"),
                          ("PROGRESS", "right"), ("CREATED", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for job in _run(lambda: _with_runtime(settings, go)):
        table.add_row(job["id"], job["kind"], job["status"], job.get("phase") or "", f"{job['progress']}%",
                      str(job["created_at"]).replace("T", " ")[:19])
    # a wide console when piped too, so that ids are never cut
    Console(width=max(160, Console().width), soft_wrap=False).print(table)


def _one_job(ctx: click.Context, action: Callable[[Any, Any, str], Awaitable[dict[str, Any]]], job_id: str) -> dict[str, Any]:
    """Run ``action(session, runtime, job_id)`` in a write session as the system principal."""
    settings = _settings(ctx)

    async def go(rt: Any) -> dict[str, Any]:
        async with rt.db.session() as s:
            return await action(s, rt, job_id)

    return _guard(lambda: _run(lambda: _with_runtime(settings, go)))


@jobs.command("show")
@click.argument("job_id")
@click.pass_context
def jobs_show(ctx: click.Context, job_id: str) -> None:
    """Print one job as JSON."""
    from genloom.core.principal import SYSTEM
    from genloom.jobs import service

    job = _one_job(ctx, lambda s, _rt, jid: service.get_job(s, SYSTEM, jid), job_id)
    click.echo(json.dumps(job, ensure_ascii=False, indent=2))


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: str) -> None:
    """Cancel a job."""
    from genloom.core.principal import SYSTEM
    from genloom.jobs import service

    job = _one_job(ctx, lambda s, rt, jid: service.cancel_job(s, rt, SYSTEM, jid), job_id)
    click.echo(f"{job['id']} {job['status']}")


def _guard(fn: Callable[[], T]) -> T:
    from genloom.core.errors import GenloomError

    try:
        return fn()
    except GenloomError as exc:
        click.echo(f"genloom: {exc.message}", err=True)
        sys.exit(1)


@main.command()
@click.argument("prompt")
@click.option("--seed", type=int, default=None)
@click.option("--width", type=int, default=None)
@click.option("--height", type=int, default=None)
@click.option("--negative", default=None, help="Negative prompt.")
@click.option("--wait/--no-wait", default=False, help="Follow progress and print where the result is.")
@click.pass_context
def generate(ctx: click.Context, prompt: str, seed: int | None, width: int | None, height: int | None,
             negative: str | None, wait: bool) -> None:
    """Queue an image generation; with --wait, show live progress and print the result file's path."""
    from genloom.cli_generate import run_generate

    settings = _settings(ctx)
    job_input: dict[str, Any] = {"prompt": prompt}
    for key, value in (("seed", seed), ("width", width), ("height", height), ("negative_prompt", negative)):
        if value is not None:
            job_input[key] = value
    code = _guard(lambda: _run(lambda: _with_runtime(settings, lambda rt: run_generate(rt, job_input, wait))))
    sys.exit(code)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(output: Path | None) -> None:
    """Write the OpenAPI document (JSON)."""
    from genloom.app import create_app

    doc = json.dumps(create_app(load_settings()).openapi(), ensure_ascii=False, indent=2)
    if output:
        output.write_text(doc, encoding="utf-8")
    else:
        click.echo(doc)


@main.command("postman")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_POSTMAN,
              show_default=True, help="Where to write the collection ('-' for stdout).")
def postman(output: Path) -> None:
    """Write a Postman v2.1 collection covering every route (from the OpenAPI document)."""
    from genloom.postman import collection_text

    text = collection_text()
    if str(output) == "-":
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


# feature commands (each module's ``register(group)`` adds its own)
identity_cli.register(main)
cinemind_cli.register(main)
ops_cli.register(main)
search_cli.register(main)


if __name__ == "__main__":  # pragma: no cover
    main()
