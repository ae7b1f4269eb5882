"""The shop itself, for its storefront: its id (the owner of its metafields), its products (what
each earns), and the `certhook.impact` shop metafield a theme block renders from."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..http import Rejected
from .shopify_graphql import SERVICE, Budget, set_metafields

SHOP_ID = "query certhookShop { shop { id } }"

# 100 products a page, each with its first variant (its SKU and price): a cost of about 202
PRODUCTS = """
query certhookProducts($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId title variants(first: 1) { nodes { sku price } } }
  }
}
""".strip()


def shop_gid(budget: Budget) -> str:
    found = (budget.query(SHOP_ID, {}).get("shop") or {}).get("id")
    if not isinstance(found, str) or not found.startswith("gid://shopify/Shop/"):
        raise Rejected(f"{SERVICE}: the shop's id is not in the answer")
    return found


def products(budget: Budget) -> Iterator[dict[str, str]]:
    """Every product as a line to evaluate: its id, title, first variant's SKU and price."""
    after = None
    while True:
        page = budget.query(PRODUCTS, {"first": 100, "after": after})["products"]
        for node in page["nodes"]:
            variant = ((node.get("variants") or {}).get("nodes") or [{}])[0] or {}
            yield {"product_id": str(node["legacyResourceId"]), "title": str(node.get("title") or ""),
                   "sku": str(variant.get("sku") or ""), "price": str(variant.get("price") or "0")}
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def set_impact(budget: Budget, owner: str, value: dict[str, Any]) -> None:
    """The shop's certhook.impact metafield (type json) set to `value`."""
    set_metafields(budget.http, [{"ownerId": owner, "namespace": "certhook", "key": "impact", "type": "json",
                                  "value": json.dumps(value, ensure_ascii=False, separators=(",", ":"))}])
