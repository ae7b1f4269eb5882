"""What every certhook command shares: the --config option, and certhook built from it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from ..context import Certhook, build
from ..rules import RulesError
from ..settings import Settings, SettingsError, load_settings

config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), default=None,
    help="certhook.yaml (default: $CERTHOOK_CONFIG, else ./certhook.yaml)")


def settings_of(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def context(config: str | None) -> Iterator[Certhook]:
    """certhook built from the settings, closed at the end; bad settings or rules exit 1."""
    try:
        ch = build(settings_of(config))
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield ch
    finally:
        ch.close()


def when(value: str) -> datetime:
    """A date or ISO time from the command line, in UTC unless it says otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
