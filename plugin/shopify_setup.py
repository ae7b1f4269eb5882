"""A Shopify app shop set up and looked at: its webhooks registered at certhook's public
address (by `certhook shopify connect` and a finished install), and what `check --online` says
of it: how it is connected, its token, its scopes, its webhooks."""
from __future__ import annotations

from datetime import UTC, datetime

from .connections import CLIENT_CREDENTIALS
from .context import Certhook
from .http import ApiError
from .platforms.shopify_api import ShopifyApi
from .platforms.shopify_app import Subscribed
from .platforms.shopify_auth import scopes
from .settings import Shop

BACKFILL_SCOPE = "read_all_orders"  # the orders query goes back 60 days without it


def webhook_uri(ch: Certhook) -> str:
    return f"{ch.settings.public_url}/webhooks/shopify"


def _api(ch: Certhook, shop: Shop) -> ShopifyApi:
    store = ch.store(shop)
    assert isinstance(store, ShopifyApi)
    return store


def subscribe(ch: Certhook, shop: Shop) -> tuple[list[Subscribed], str | None]:
    """The app's webhooks made sure of; and what went wrong, if anything did."""
    if not ch.settings.public_url:
        return [], "public_url is not set in certhook.yaml: the webhooks' address is made from it"
    try:
        done = _api(ch, shop).subscribe(webhook_uri(ch))
    except ApiError as exc:
        return [], f"registering the webhooks failed: {exc.message}"
    failed = sum(1 for s in done if s.action == "failed")
    return done, (f"{failed} webhook(s) could not be registered (the store's reasons are above): fix "
                  "that, then run certhook shopify connect") if failed else None


def _when(ts: float | None) -> str:
    return "never" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def connection_line(ch: Certhook, shop: Shop) -> str:
    """How the shop is connected, and until when its token holds."""
    if not shop.client_id:
        return f"shop {shop.id}: an admin-created app's access_token"
    row = ch.connections.row(shop.id)
    how = "client credentials" if shop.connect == CLIENT_CREDENTIALS else "authorization code"
    if row is None or row.access_token is None:
        return f"shop {shop.id}: {how}, no token yet"
    return f"shop {shop.id}: {how}, {row.status}, token expires {_when(row.expires_at)}"


def report(ch: Certhook, shop: Shop) -> tuple[list[str], list[str]]:
    """What `check --online` says of a Shopify shop, asking Shopify: (what it found, what is
    wrong: a connection Shopify refused, missing scopes, missing or stray webhooks)."""
    api = _api(ch, shop)
    try:
        if shop.client_id:
            ch.connections.token(shop)
        granted = api.scopes()
        uri = webhook_uri(ch)
        missing, stray = api.webhooks_against(uri) if shop.client_id and ch.settings.public_url else ([], [])
    except ApiError as exc:
        return [connection_line(ch, shop)], [f"shop {shop.id}: {exc.message}"]
    found = [connection_line(ch, shop), f"shop {shop.id}: scopes {', '.join(granted) or 'none'}"]
    problems = []
    lacking = [s for s in scopes(shop) if s not in granted]
    if lacking:
        problems.append(f"shop {shop.id}: missing scopes: {', '.join(lacking)}")
    if BACKFILL_SCOPE not in granted:
        found.append(f"shop {shop.id}: without {BACKFILL_SCOPE}, backfill reaches back 60 days")
    if missing:
        problems.append(f"shop {shop.id}: webhooks missing at {uri}: {', '.join(missing)} "
                        "(run certhook shopify connect)")
    if stray:
        found.append(f"shop {shop.id}: webhooks also sent elsewhere: {'; '.join(stray)}")
    return found, problems
