"""certhook backup PATH: a consistent copy of a SQLite database, taken while certhook serves."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from sqlalchemy import make_url

from .common import config_option, settings_of


@click.command()
@config_option
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(config: str | None, path: Path) -> None:
    """A consistent copy of the SQLite database at PATH, while certhook serves (SQLite's online
    backup: writers go on meanwhile). For PostgreSQL, use pg_dump."""
    url = make_url(settings_of(config).database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        raise click.ClickException("the database is not a SQLite file: back PostgreSQL up with "
                                   "pg_dump (see the README)")
    source = Path(url.database)
    if not source.exists():
        raise click.ClickException(f"no database at {source}")
    partial = path.with_name(f".{path.name}.partial")
    with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
        live.execute("PRAGMA busy_timeout = 30000")
        live.backup(copy)  # one step: a snapshot of one moment, writers not held up (WAL)
        orders = copy.execute("SELECT count(*) FROM orders").fetchone()[0]
    live.close()
    copy.close()
    os.replace(partial, path)  # whole, or not at all
    click.echo(f"backed up {orders} order(s) to {path} ({path.stat().st_size / 1e6:.1f} MB)")


COMMANDS = (backup,)
