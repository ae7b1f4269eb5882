"""certhook demo: signed sample orders for a shadow-mode shop, sent through a running certhook's
webhook door; it waits until each is recorded and prints what shadow mode says it would issue."""
from __future__ import annotations

import time

import click
import requests
from sqlalchemy import select

from ..context import Certhook
from ..demo import NotShadow, Sample, samples
from ..models import orders
from ..settings import Shop
from ..statuses import OrderStatus
from .common import config_option, context

WAIT_SECONDS = 60
OPEN = (OrderStatus.PENDING, OrderStatus.HELD)  # not evaluated yet


def _shop(ch: Certhook, shop_id: str | None) -> Shop:
    if shop_id is not None:
        shop = ch.shop(shop_id)
        if shop is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        return shop
    return next((s for s in ch.settings.shops if s.shadow), ch.settings.shops[0])


def _outcomes(ch: Certhook, shop: Shop, ids: list[str]) -> dict[str, tuple[str, str, str | None]]:
    """order id → (name, status, reason), for those evaluated."""
    with ch.db.read() as conn:
        rows = conn.execute(select(orders.c.order_id, orders.c.order_name, orders.c.status,
                                   orders.c.reason)
                            .where(orders.c.shop == shop.id, orders.c.order_id.in_(ids))).all()
    return {r.order_id: (r.order_name, r.status, r.reason) for r in rows if r.status not in OPEN}


def _send(base: str, sent: list[Sample]) -> None:
    """POST each sample to the webhook door, as its store would."""
    with requests.Session() as session:
        for sample in sent:
            try:
                r = session.post(base + sample.path, data=sample.body, headers=sample.headers, timeout=10)
            except requests.RequestException:
                raise click.ClickException(f"nothing answers at {base}: start certhook serve first "
                                           "(or give --url)") from None
            if r.status_code != 200:
                raise click.ClickException(f"{base}{sample.path} answered {r.status_code}: {r.text[:200]}")


def _wait(ch: Certhook, shop: Shop, ids: list[str]) -> dict[str, tuple[str, str, str | None]]:
    """Until each is evaluated, or WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found := _outcomes(ch, shop, ids)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@click.command()
@config_option
@click.option("--shop", "shop_id", default=None, help="the shop's id (default: the first in shadow mode)")
@click.option("--orders", "count", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--url", default=None, help="the running certhook (default: public_url, else "
              "http://127.0.0.1:8000)")
def demo(config: str | None, shop_id: str | None, count: int, url: str | None) -> None:
    """Send sample paid orders, built from the shop's rules, to a running certhook, and print
    what each would earn. Only for a shop in shadow mode."""
    with context(config) as ch:
        shop = _shop(ch, shop_id)
        try:
            sent = samples(shop, ch.rules[shop.id], count)
        except NotShadow as exc:
            raise click.ClickException(f"{exc}; nothing was sent") from None
        base = (url or ch.settings.public_url or "http://127.0.0.1:8000").rstrip("/")
        _send(base, sent)
        ids = [s.order_id for s in sent]
        found = _wait(ch, shop, ids)
    for order_id in ids:
        name, status, reason = found.get(order_id, (order_id, "not evaluated yet", None))
        click.echo(f"{name} ({order_id}): {status}" + (f": {reason}" if reason else ""))
    click.echo(f"See them on the dashboard at {base}/ and in the API at {base}/api/orders?shop={shop.id}")
    if len(found) < len(ids):
        raise click.ClickException(f"not all evaluated within {WAIT_SECONDS} s: is certhook serve "
                                   "(or certhook worker) running on this database?")


COMMANDS = (demo,)
