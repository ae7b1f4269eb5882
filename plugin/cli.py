"""The `certhook` command: serve, worker, check, preview, orders, retry, backfill."""
from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .context import Certhook, build, rules_for
from .rules import RulesError, evaluate
from .settings import Settings, SettingsError, load_settings

config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), default=None,
    help="certhook.yaml (default: $CERTHOOK_CONFIG, else ./certhook.yaml)")


def _settings(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _context(config: str | None) -> Iterator[Certhook]:
    try:
        ch = build(_settings(config))
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield ch
    finally:
        ch.close()


@click.group()
@click.version_option(package_name="certhook", message="certhook %(version)s")
def main() -> None:
    """certhook: impact certificates for paid orders, exactly once."""


@main.command()
@config_option
@click.option("--online", is_flag=True, help="also ask CertFusion whether the rules' lists exist")
def check(config: str | None, online: bool) -> None:
    """Validate the settings and every rules file."""
    try:
        settings = load_settings(config)
        rules = rules_for(settings)
        if online:
            _check_lists(settings, rules)
    except (SettingsError, RulesError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo("ok")


def _check_lists(settings: Settings, rules: dict[str, Any]) -> None:
    from .issuers.certfusion import CertFusionClient
    from .issuers.errors import ApiError

    wanted = [(shop, r) for shop in settings.shops for r in rules[shop.id] if r.certfusion]
    if not wanted or settings.certfusion is None:
        return
    try:
        with CertFusionClient(settings.certfusion, (5, 30)) as cf:
            known = {int(lst["id"]) for lst in cf.lists()}
    except ApiError as exc:
        raise RulesError([f"cannot ask CertFusion for its lists: {exc.message}"]) from None
    errors = [f'{shop.rules}:{r.line}: rule "{r.name}": CertFusion list {r.certfusion.list_id} '
              "does not exist" for shop, r in wanted if r.certfusion.list_id not in known]
    if errors:
        raise RulesError(errors)


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
@click.option("--web-workers", type=int, default=None,
              help="web processes (default: 1 on SQLite, which has one writer; else 2)")
def serve(config: str | None, bind: str, web_workers: int | None) -> None:
    """The web server and the background workers, in one command."""
    from . import create_app
    from .server import Server

    with _context(config) as ch:
        ch.db.upgrade()
        path = str(ch.settings.path)
        web_workers = web_workers or (1 if ch.db.is_sqlite else 2)
    Server(lambda: create_app(path), {"bind": bind, "workers": web_workers}).run()


@main.command()
@config_option
def worker(config: str | None) -> None:
    """Only the background workers (for more machines or processes)."""
    import logging

    from .jobs.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    with _context(config) as ch:
        jobs = Worker(ch)
        jobs.start()
        stopped.wait()
        jobs.stop(wait=True)


@main.command()
@config_option
@click.option("--shop", "shop_id", required=True, help="the shop's id in certhook.yaml")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.argument("order_file", type=click.Path(exists=True, dir_okay=False))
def preview(config: str | None, shop_id: str, as_json: bool, order_file: str) -> None:
    """What ORDER_FILE (a webhook payload) would issue. Nothing is issued."""
    from .issuance import certificate_fields, external_unique_id
    from .orders import PayloadError
    from .platforms import NORMALIZE

    with _context(config) as ch:
        shop, rules = ch.shop(shop_id), ch.rules.get(shop_id, ())
    if shop is None:
        raise click.ClickException(f"no shop {shop_id!r} in the settings")
    try:
        payload = json.loads(Path(order_file).read_text(encoding="utf-8"))
        if not isinstance(payload, dict):
            raise PayloadError("the file is not a JSON object")
        order = NORMALIZE[shop.platform](shop.id, payload)
    except (ValueError, PayloadError) as exc:
        raise click.ClickException(f"{order_file}: {exc}") from None
    result = evaluate(rules, order)
    certs = []
    for alloc in result.allocations:
        item = SimpleNamespace(allocation_id=alloc.allocation_id, impact_qty=alloc.impact_qty,
                               external_unique_id=external_unique_id(shop.id, order.order_id,
                                                                     alloc.allocation_id))
        certs.append(certificate_fields(order, item))
    if as_json:
        click.echo(json.dumps({"order_id": order.order_id, "test": order.test,
                               **asdict(result), "certificates": certs}, indent=2))
        return
    click.echo(f"order {order.order_name} ({order.order_id}) for shop {shop.id}")
    if order.test:
        click.echo("  a test order: certhook ignores it and issues nothing")
    for fired in result.fired:
        target = f"allocation {fired.allocation_id}" if fired.allocation_id else "gifts"
        click.echo(f"  rule {fired.rule!r}: {fired.impact_qty} for {target} "
                   f"({len(fired.line_item_ids)} line item(s))")
    for alloc in result.allocations:
        click.echo(f"  allocation {alloc.allocation_id}: impact_qty {alloc.impact_qty}")
    for cert in certs:
        click.echo(f"  certificate: {json.dumps(cert, ensure_ascii=False)}")
    for gift in result.gifts:
        click.echo(f"  offering: quantity {gift.quantity} for line item {gift.line_item_id}"
                   + (f", limited to allocations {list(gift.limit_allocations)}"
                      if gift.limit_allocations else "")
                   + (f", valid {gift.valid_days} days" if gift.valid_days else ""))
    if not result.earns_something:
        click.echo(f"  nothing to issue: {result.reason}")
    if shop.shadow:
        click.echo("  (the shop is in shadow mode: it records this and issues nothing)")


@main.command()
@config_option
@click.option("--shop", "shop_id", default=None)
@click.option("--status", default=None,
              type=click.Choice(["pending", "done", "skipped", "failed"]))
@click.option("--limit", default=50, show_default=True)
def orders(config: str | None, shop_id: str | None, status: str | None, limit: int) -> None:
    """The orders table, newest first."""
    from .store import list_orders

    with _context(config) as ch, ch.db.read() as conn:
        rows, total = list_orders(conn, shop_id, status, None, 1, limit)
    header = f"{'SHOP':<12} {'ORDER':<22} {'NAME':<10} {'STATUS':<8} {'CERTS':<6} {'WRITEBACK':<9} NOTE"
    click.echo(header)
    for row, items in rows:
        issued = sum(1 for i in items if i.status == "issued")
        note = row.reason or row.writeback_error or next((i.error for i in items if i.error), "")
        click.echo(f"{row.shop:<12} {row.order_id:<22} {row.order_name:<10} {row.status:<8} "
                   f"{f'{issued}/{len(items)}':<6} {row.writeback_status or '-':<9} {note or ''}")
    click.echo(f"{len(rows)} of {total} order(s)")


def _when(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@main.command()
@config_option
@click.option("--shop", "shop_id", required=True, help="the shop's id in certhook.yaml")
@click.option("--since", required=True, help="YYYY-MM-DD or an ISO time (UTC unless it says)")
@click.option("--until", default=None, help="YYYY-MM-DD or an ISO time (default: now)")
@click.option("--dry-run", is_flag=True, help="only report what would be enqueued")
def backfill(config: str | None, shop_id: str, since: str, until: str | None, dry_run: bool) -> None:
    """Fetch paid orders from the store and issue what is missing."""
    from .issuers.errors import ApiError
    from .reconcile import sync

    start, end = _when(since), _when(until) if until else datetime.now(UTC)
    if end <= start:
        raise click.BadParameter("--until must be after --since")
    with _context(config) as ch:
        shop = ch.shop(shop_id)
        if shop is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        ch.db.upgrade()
        click.echo(f"{shop.id}: paid orders updated {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
                   err=True)
        with click.progressbar(length=0, label="orders", file=sys.stderr,
                               show_pos=True) as bar:
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


@main.command()
@config_option
@click.argument("shop_id")
@click.argument("order_id")
def retry(config: str | None, shop_id: str, order_id: str) -> None:
    """Retry what failed on one order."""
    from .store import retry_order

    with _context(config) as ch:
        retried = retry_order(ch, shop_id, order_id)
    if retried is None:
        raise click.ClickException(f"no order {order_id} for shop {shop_id}")
    click.echo(f"queued {retried} item(s) again")


if __name__ == "__main__":
    main()
