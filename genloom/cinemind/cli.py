"""cineMind's commands: ``genloom seed-demo`` and ``genloom postman`` (``init-db`` is an alias of ``migrate``)."""

from __future__ import annotations

import asyncio
import json
import sys

import click


@click.command("seed-demo")
@click.pass_context
def seed_demo(ctx: click.Context) -> None:
    """Add demo nodes and a few finished generations (offline providers), so the media tree is not empty."""
    from genloom.assembly import build_runtime, start_runtime
    from genloom.cinemind.seed import seed_demo as run_seed
    from genloom.core.migrate import upgrade
    from genloom.core.settings import SettingsError, load_settings

    env = ctx.obj.get("env") if ctx.obj else None
    try:
        # the demo is made offline whatever providers the server is configured with
        settings = load_settings(env, text_provider="local", image_provider="local")
    except SettingsError as exc:
        click.echo(f"genloom: {exc}", err=True)
        sys.exit(2)

    async def go() -> dict[str, object]:
        runtime = build_runtime(settings)
        try:
            await upgrade(runtime.db.engine)
            await start_runtime(runtime, migrate=False)
            return await run_seed(runtime)
        finally:
            await runtime.close()

    click.echo(json.dumps(asyncio.run(go()), ensure_ascii=False, indent=2))


def register(group: click.Group) -> None:
    group.add_command(seed_demo)
