"""Keeping the database: `certhook backup PATH` (a consistent copy of a SQLite database, taken
while certhook serves) and `certhook recount` (the kept counts rebuilt)."""
from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import click
from sqlalchemy import make_url

from ..tallies import recount as rebuild
from .common import config_option, context, settings_of


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
    # A new file of its own (O_EXCL, mode 0600): never one planted there, nor a symlink's target
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.execute("PRAGMA busy_timeout = 30000")
            live.backup(copy)  # one step: a snapshot of one moment, writers not held up (WAL)
            orders = copy.execute("SELECT count(*) FROM orders").fetchone()[0]
        live.close()
        copy.close()
        os.replace(partial, path)  # whole, or not at all
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"backed up {orders} order(s) to {path} ({path.stat().st_size / 1e6:.1f} MB)")


@click.command()
@config_option
def recount(config: str | None) -> None:
    """Rebuild the kept counts (orders per status, impact per day) from the orders and their
    certificates, and say what had drifted: exit 1 if anything had."""
    with context(config) as ch, ch.db.write() as conn:
        drift = rebuild(conn)
    for line in drift:
        click.echo(line)
    if drift:
        click.echo(f"rebuilt: {len(drift)} count(s) had drifted")
        raise SystemExit(1)
    click.echo("ok: nothing had drifted")


COMMANDS = (backup, recount)
