"""What a newcomer does next: the steps that connect a store to this certhook (with its own
URLs), and which stores have not sent a webhook of their own yet. `certhook init` prints the
steps; the dashboard shows them until each store's first webhook."""
from __future__ import annotations

from sqlalchemy import Connection, exists, or_, select

from .models import deliveries
from .settings import Shop

SAMPLE = "sample-"  # the event id of a sample order's delivery (certhook demo): not the store's


def env_name(shop_id: str, what: str) -> str:
    """ACME_WEBHOOK_SECRET: the variable a shop's secret is named by in .env."""
    return f"{shop_id.upper().replace('-', '_')}_{what}"


def steps(shop: Shop, public_url: str) -> list[str]:
    """How to connect the store to this certhook, and go live."""
    url = public_url.rstrip("/") or "https://HOST"
    if shop.platform == "shopify":
        store = [f"In Shopify's Dev Dashboard, create an app with the scopes read_orders,write_orders, "
                 f"the app URL {url}/shopify/install and the redirect URL {url}/shopify/callback.",
                 f"Put its client id and secret in .env as {env_name(shop.id, 'CLIENT_ID')} and "
                 f"{env_name(shop.id, 'CLIENT_SECRET')}, and under the shop in certhook.yaml: "
                 f"client_id: ${{{env_name(shop.id, 'CLIENT_ID')}}} and client_secret: "
                 f"${{{env_name(shop.id, 'CLIENT_SECRET')}}}.",
                 "Run certhook shopify connect: it takes a token and registers the webhooks."]
    else:
        store = [f"In WordPress, WooCommerce > Settings > Advanced > Webhooks: add one with the topic "
                 f"Order updated, the delivery URL {url}/webhooks/woocommerce and the shop's webhook "
                 f"secret ({env_name(shop.id, 'WEBHOOK_SECRET')} in .env).",
                 "WooCommerce > Settings > Advanced > REST API: add a key with Read/Write access, and "
                 "put its consumer key and secret under the shop in certhook.yaml (from .env: "
                 f"${{{env_name(shop.id, 'CONSUMER_KEY')}}}, ${{{env_name(shop.id, 'CONSUMER_SECRET')}}})."]
    return [*store, "Give dots: your Dots.eco tokens, and set the shop's mode: live."]


def waiting(conn: Connection, shops: tuple[Shop, ...]) -> list[Shop]:
    """The stores no webhook of their own has come from yet (sample orders don't count)."""
    def heard(shop: Shop) -> bool:
        return bool(conn.execute(select(exists().where(
            deliveries.c.shop == shop.id,
            or_(deliveries.c.event_id.is_(None), deliveries.c.event_id.not_like(f"{SAMPLE}%"))))).scalar())
    return [shop for shop in shops if not heard(shop)]
