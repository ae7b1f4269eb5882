"""certhook preview --since: today's rules against a candidate's, over the orders recorded."""
from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from ..rules import RulesError, load_rules
from ..whatif import compare, recorded
from .common import context


def _day(value: date) -> float:
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()


def preview_window(config: str | None, shop_id: str, since: date, until: date | None,
                   rules_file: str | None, as_json: bool) -> None:
    """Replay the shop's orders received from `since` to `until` (whole UTC days, today by
    default) through today's rules and the candidate file; print the totals of both."""
    with context(config) as ch:
        shop = ch.shop(shop_id)
        if shop is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        until = until or datetime.now(UTC).date()
        try:
            candidate = load_rules(Path(rules_file)) if rules_file else ch.rules[shop.id]
        except RulesError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        with ch.db.read() as conn:
            found = recorded(ch, conn, shop.id, _day(since), _day(until + timedelta(days=1)))
            count, totals = compare(found, ch.rules[shop.id], candidate)
    if as_json:
        click.echo(json.dumps({"shop": shop.id, "since": since.isoformat(), "until": until.isoformat(),
                               "orders": count, "totals": totals}, indent=2))
        return
    click.echo(f"shop {shop.id}: {count} order(s) received {since} to {until}; today's rules → "
               f"{rules_file or 'the same rules'}")
    for t in totals:
        what = (f"CertFusion list {t['list_id']}" if "list_id" in t
                else f"allocation {t['allocation_id']}" if t["allocation_id"] else "offerings")
        click.echo(f"  {what:<24} {t['current_qty']:>10} → {t['candidate_qty']:<10}")
    if not totals:
        click.echo("  nothing would be issued either way")
