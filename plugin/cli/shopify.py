"""certhook shopify connect: a Dev Dashboard app's shop gets its token and its webhooks."""
from __future__ import annotations

import sys

import click

from ..connections import CLIENT_CREDENTIALS
from ..context import Certhook
from ..http import ApiError
from ..settings import Shop
from ..shopify_setup import connection_line, subscribe, webhook_uri
from .common import config_option, context


@click.group()
def shopify() -> None:
    """Shopify stores connected through a Dev Dashboard app."""


def _token(ch: Certhook, shop: Shop) -> bool:
    """Take a token (client credentials), or make sure the install left one; say what happened."""
    try:
        if shop.connect == CLIENT_CREDENTIALS:
            ch.connections.reconnect(shop)
        else:
            ch.connections.token(shop)
    except ApiError as exc:
        click.echo(f"{shop.id}: {exc.message}", err=True)
        return False
    click.echo(connection_line(ch, shop))
    return True


def _connect(ch: Certhook, shop: Shop) -> bool:
    if not shop.client_id:
        click.echo(f"{shop.id}: uses an admin-created app's access_token: its webhooks are made in "
                   "the store admin (Settings > Notifications > Webhooks)")
        return True
    if not _token(ch, shop):
        return False
    subscribed, trouble = subscribe(ch, shop)
    for s in subscribed:
        click.echo(f"  {s.topic}: {s.action}" + (f" ({s.detail})" if s.detail else ""))
    if trouble:
        click.echo(f"{shop.id}: {trouble}", err=True)
    return trouble is None


@shopify.command()
@config_option
@click.option("--shop", "shop_id", default=None, help="one shop's id (default: every Shopify shop)")
def connect(config: str | None, shop_id: str | None) -> None:
    """Get a token (client credentials) and make sure the app's webhooks are registered at
    {public_url}/webhooks/shopify. Run it again any time: it changes only what is missing."""
    with context(config) as ch:
        if not ch.settings.public_url:
            raise click.ClickException("public_url is not set in certhook.yaml: certhook registers "
                                       "its webhooks at {public_url}/webhooks/shopify")
        shops = [s for s in ch.settings.shops if s.platform == "shopify" and shop_id in (None, s.id)]
        if not shops:
            raise click.ClickException(f"no Shopify shop {shop_id!r} in the settings" if shop_id
                                       else "no Shopify shop in the settings")
        ch.db.upgrade()
        click.echo(f"webhooks go to {webhook_uri(ch)}")
        results = [_connect(ch, shop) for shop in shops]
    if not all(results):
        sys.exit(1)


COMMANDS = (shopify,)
