"""What every ``genloom`` sub-command shares: settings from the command line's ``--env`` (a bad setting ends
the command with exit code 2 and one line per problem)."""

from __future__ import annotations

import sys
from typing import Any

import click

from genloom.core.settings import Settings, SettingsError, load_settings


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    env = ctx.obj.get("env") if ctx.obj else None
    try:
        return load_settings(env, **{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        click.echo(f"genloom: {exc}", err=True)
        sys.exit(2)
