"""cineMind's commands: ``genloom seed-demo`` and ``genloom postman`` (``init-db`` is an alias of ``migrate``)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

DEFAULT_POSTMAN = Path("docs/genloom.postman_collection.json")


@click.command("seed-demo")
@click.pass_context
def seed_demo(ctx: click.Context) -> None:
    """Add demo nodes and a few finished generations (offline providers), so the media tree is not empty."""
    from genloom.cinemind.seed import seed_demo as run_seed
    from genloom.core.migrate import upgrade
    from genloom.core.settings import SettingsError, load_settings
    from genloom.runtime import build_runtime, start_runtime

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


@click.command("postman")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_POSTMAN,
              show_default=True, help="Where to write the collection ('-' for stdout).")
def postman(output: Path) -> None:
    """Write a Postman v2.1 collection covering every route (from the OpenAPI document)."""
    from genloom.cinemind.postman import collection_text

    text = collection_text()
    if str(output) == "-":
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


def register(group: click.Group) -> None:
    group.add_command(seed_demo)
    group.add_command(postman)
