"""``genloom backup DEST`` and ``genloom restore SRC`` (the embedded SQLite database and its media folder)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from genloom.clitools import settings_from
from genloom.core.errors import GenloomError
from genloom.ops import backup as ops


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@click.pass_context
def backup_cmd(ctx: click.Context, dest: Path) -> None:
    """Copy the SQLite database (online, while the server runs) and the media folder into the new folder DEST.

    PostgreSQL: use pg_dump / pg_restore and S3 bucket versioning (docs/deploy.md)."""
    try:
        result = ops.backup(settings_from(ctx), dest)
    except GenloomError as exc:
        click.echo(f"genloom: {exc.message}", err=True)
        sys.exit(1)
    click.echo(json.dumps(asdict(result), indent=2))
    if result.missing_files:
        click.echo(f"genloom: {len(result.missing_files)} files named by the database were deleted while copying",
                   err=True)


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.pass_context
def restore_cmd(ctx: click.Context, src: Path) -> None:
    """Restore a backup made by `genloom backup` into this configuration's (empty) data folder."""
    try:
        result = ops.restore(settings_from(ctx), src)
    except GenloomError as exc:
        click.echo(f"genloom: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"restored {result.jobs} jobs, {result.events} events, {result.assets} assets, {result.files} files "
               f"(backup of {result.created_at})")


def register(group: click.Group) -> None:
    group.add_command(backup_cmd)
    group.add_command(restore_cmd)
