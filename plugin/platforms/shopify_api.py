"""One Shopify shop's Admin API: write-back by metafields, paid orders, the app's webhooks and
scopes; every call with the token of the moment (see connections.py)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..http import AuthError, Client, Response
from ..settings import Shop
from . import shopify_app as app
from . import shopify_graphql as graphql
from . import shopify_shop as shop_side
from .base import PaidOrder, StoreApi
from .shopify_graphql import SERVICE
from .shopify_orders import normalize

if TYPE_CHECKING:  # built on top of the platforms; only its type is needed here
    from ..connections import Connections

HEADER = "X-Shopify-Access-Token"


class Authorized:
    """The shop's Admin API door: an admin-created app's token as it is, or a Dev Dashboard
    app's from its connection, where a 401 renews it once and tries once more; a second 401
    means the app lost its access (the connection is refused: Needs attention)."""

    def __init__(self, http: Client, shop: Shop, connections: Connections):
        self.http, self.shop, self.connections = http, shop, connections

    def request(self, method: str, path: str, allow: tuple[int, ...] = (), **kwargs: Any) -> Response:
        if not self.shop.client_id:
            return self.http.request(method, path, allow, headers={HEADER: self.shop.access_token}, **kwargs)
        token = self.connections.token(self.shop)
        try:
            response = self.http.request(method, path, allow, headers={HEADER: token.value}, **kwargs)
        except AuthError:
            token = self.connections.renewed(self.shop, token)
            try:
                response = self.http.request(method, path, allow, headers={HEADER: token.value}, **kwargs)
            except AuthError as exc:
                raise self.connections.refused(self.shop, f"Shopify refused a new token for "
                                               f"{self.shop.id}: {exc.message}") from None
        self.connections.confirmed(self.shop, token)
        return response


class ShopifyApi(StoreApi):
    def __init__(self, shop: Shop, connections: Connections):
        self.shop = shop
        self.http = Client(SERVICE, shop.api_url, (shop.connect_timeout, shop.read_timeout),
                           max_bytes=shop.max_answer_bytes)
        self.door = Authorized(self.http, shop, connections)

    def write_back(self, order_id: str, entries: list[dict[str, Any]],
                   customer_url: str | None) -> None:
        """certhook.certificates (JSON), and certhook.customer_url, in one metafieldsSet call."""
        owner = f"gid://shopify/Order/{order_id}"
        metafields = [{"ownerId": owner, "namespace": "certhook", "key": "certificates",
                       "type": "json", "value": json.dumps(entries, ensure_ascii=False)}]
        if customer_url:
            metafields.append({"ownerId": owner, "namespace": "certhook", "key": "customer_url",
                               "type": "url", "value": customer_url})
        graphql.set_metafields(self.door, metafields)

    def paid_orders(self, since: datetime, until: datetime) -> list[PaidOrder]:
        budget = graphql.Budget(self.door)
        return [(order_id, lambda order_id=order_id: normalize(self.shop.id, graphql.fetch_order(
            budget, order_id))) for order_id in graphql.paid_order_ids(budget, since, until)]

    def subscribe(self, uri: str) -> list[app.Subscribed]:
        return app.ensure(self.door, uri)

    def webhooks_against(self, uri: str) -> tuple[list[str], list[str]]:
        """(missing, stray): see shopify_app.compare."""
        return app.compare(self.door, uri)

    def scopes(self) -> list[str]:
        return app.scopes(self.door)

    def shop_gid(self) -> str:
        return shop_side.shop_gid(graphql.Budget(self.door))

    def products(self) -> Iterator[dict[str, str]]:
        """Every product, as a line its page would show: id, title, SKU and price."""
        return shop_side.products(graphql.Budget(self.door))

    def set_impact(self, owner: str, value: dict[str, Any]) -> None:
        shop_side.set_impact(graphql.Budget(self.door), owner, value)

    def close(self) -> None:
        self.http.close()
