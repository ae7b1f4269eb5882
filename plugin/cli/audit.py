"""certhook audit: what certhook recorded, checked against Dots.eco; exit 1 on any difference."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime

import click

from ..audit import Problem, check, recorded
from .common import config_option, context, when


@click.command()
@config_option
@click.option("--shop", "shop_id", default=None, help="only this shop (default: every shop)")
@click.option("--since", required=True, help="items recorded since this day (YYYY-MM-DD, UTC)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--rate", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="calls to Dots.eco per second, at most")
def audit(config: str | None, shop_id: str | None, since: str, as_json: bool, rate: float) -> None:
    """Check each certificate and offering recorded since --since at Dots.eco, by its external
    id: it exists, with the same allocation and quantity, for this order; and nothing recorded
    as not issued exists there. Exit 1 if anything differs."""
    start: datetime = when(since)
    with context(config) as ch:
        if shop_id is not None and ch.shop(shop_id) is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        with ch.db.read() as conn:
            found = recorded(conn, start.timestamp(), shop_id)
        problems: list[Problem] = []
        with click.progressbar(found, label="checked", file=sys.stderr, show_pos=True) as bar:
            for row in bar:
                began = time.monotonic()
                if (problem := check(ch, row)) is not None:
                    problems.append(problem)
                time.sleep(max(1 / rate - (time.monotonic() - began), 0))  # spread the calls
    if as_json:
        click.echo(json.dumps({"checked": len(found), "problems": [p.as_json() for p in problems]},
                              indent=2))
    else:
        for p in problems:
            click.echo(f"{p.shop} order {p.order_id}: {p.external_unique_id}: {p.problem}")
        click.echo(f"checked {len(found)}, {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


COMMANDS = (audit,)
