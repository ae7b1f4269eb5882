"""certhook orders, retry and backfill: the orders table, a retry, and orders fetched from a store."""
from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ..http import ApiError
from ..reconcile import sync
from ..statuses import ItemStatus, OrderStatus
from ..store.items import retry_order
from ..store.orders import list_orders
from .common import config_option, context, when


@click.command()
@config_option
@click.option("--shop", "shop_id", default=None)
@click.option("--status", default=None, type=click.Choice([s.value for s in OrderStatus]))
@click.option("--limit", default=50, show_default=True)
def orders(config: str | None, shop_id: str | None, status: str | None, limit: int) -> None:
    """The orders table, newest first."""
    with context(config) as ch, ch.db.read() as conn:
        rows, total = list_orders(conn, shop_id, status, None, 1, limit)
    click.echo(f"{'SHOP':<12} {'ORDER':<22} {'NAME':<10} {'STATUS':<8} {'CERTS':<6} {'WRITEBACK':<9} NOTE")
    for row, items in rows:
        issued = sum(1 for i in items if i.status == ItemStatus.ISSUED)
        note = row.reason or row.writeback_error or next((i.error for i in items if i.error), "")
        click.echo(f"{row.shop:<12} {row.order_id:<22} {row.order_name:<10} {row.status:<8} "
                   f"{f'{issued}/{len(items)}':<6} {row.writeback_status or '-':<9} {note or ''}")
    click.echo(f"{len(rows)} of {total} order(s)")


@click.command()
@config_option
@click.argument("shop_id")
@click.argument("order_id")
def retry(config: str | None, shop_id: str, order_id: str) -> None:
    """Retry what failed on one order."""
    with context(config) as ch:
        retried = retry_order(ch, shop_id, order_id)
    if retried is None:
        raise click.ClickException(f"no order {order_id} for shop {shop_id}")
    click.echo(f"queued {retried} item(s) again")


@click.command()
@config_option
@click.option("--shop", "shop_id", required=True, help="the shop's id in certhook.yaml")
@click.option("--since", required=True, help="YYYY-MM-DD or an ISO time (UTC unless it says)")
@click.option("--until", default=None, help="YYYY-MM-DD or an ISO time (default: now)")
@click.option("--dry-run", is_flag=True, help="only report what would be enqueued")
def backfill(config: str | None, shop_id: str, since: str, until: str | None, dry_run: bool) -> None:
    """Fetch paid orders from the store and issue what is missing."""
    start, end = when(since), when(until) if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("--until must be after --since")
    with context(config) as ch:
        shop = ch.shop(shop_id)
        if shop is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        ch.db.upgrade()
        click.echo(f"{shop.id}: paid orders updated {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
                   err=True)
        with click.progressbar(length=0, label="orders", file=sys.stderr, show_pos=True) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            try:
                summary = sync(ch, shop, start, end, dry_run=dry_run, progress=progress,
                               source="backfill")
            except ApiError as exc:
                raise click.ClickException(exc.message) from None
    verb = "would enqueue" if dry_run else "enqueued"
    click.echo(f"found {summary.found}, already known {summary.known}, {verb} {summary.enqueued}")


COMMANDS = (orders, retry, backfill)
