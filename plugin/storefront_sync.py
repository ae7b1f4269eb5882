"""The storefront's copy in Shopify: for each Shopify shop with its storefront on, a job keeps
the shop metafield `certhook.impact` equal to its impact feed, with what each product earns, so
a theme block renders from Shopify's own data even while certhook is down.

It looks every minute and writes only when the value changed. The products are read again
every PRODUCTS_SECONDS, or at once when the rules or the allocation names changed.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from . import storefront
from .context import Certhook
from .db import put
from .http import NotConnected
from .jobs.queue import Job
from .models import storefront_syncs as table
from .platforms.shopify_api import ShopifyApi
from .settings import Shop
from .statuses import JobKind

log = logging.getLogger(__name__)
EVERY_SECONDS = 60
PRODUCTS_SECONDS = 6 * 3600
LIMIT_BYTES = 128 * 1024  # Shopify's for a json metafield (Admin API 2026-04 and later)


def wanted(shop: Shop) -> bool:
    """A live Shopify shop with its storefront on, that certhook can call."""
    return (shop.platform == "shopify" and shop.storefront.enabled and not shop.shadow
            and shop.has_api_credentials)


def ensure_jobs(ch: Certhook) -> None:
    with ch.db.write() as conn:
        for shop in ch.settings.shops:
            if wanted(shop):
                ch.queue.enqueue(conn, JobKind.STOREFRONT, shop.id, ch.now(), shop=shop.id)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def product_map(ch: Certhook, shop: Shop, api: ShopifyApi, names: dict[int, str]) -> dict[str, Any]:
    """What each product earns (its first variant, one of it), in each of the shop's languages:
    {"texts": {lang: [...]}, "products": {product id: index of its text}}; a product that
    earns nothing is left out."""
    distinct: dict[str, list[dict[str, Any]]] = {}  # earns, by its English text
    index: dict[str, int] = {}
    found: dict[str, int] = {}
    for product in api.products():
        try:
            answer = storefront.earns(ch.rules[shop.id], shop, product, names)
        except storefront.BadQuery:
            continue
        if answer["text"]:
            distinct.setdefault(answer["text"], answer["earns"])
            found[product["product_id"]] = index.setdefault(answer["text"], len(index))
    texts = _in_languages(shop, lambda lang: [storefront.text_of(e, lang) for e in distinct.values()])
    return {"texts": texts, "products": found}


def _in_languages(shop: Shop, say: Callable[[str], Any]) -> dict[str, Any]:
    """{lang: say(lang)} for each of the shop's languages, and "default": its first's."""
    said = {lang: say(lang) for lang in shop.storefront.languages}
    return {**said, "default": said[shop.storefront.languages[0]]}


def _products(ch: Certhook, shop: Shop, api: ShopifyApi, state: Any, names: dict[int, str]) -> dict[str, Any]:
    key = _digest([repr(ch.rules[shop.id]), sorted(names.items())])
    if state is not None and state.products and state.products_key == key \
            and ch.now() - (state.products_at or 0) < PRODUCTS_SECONDS:
        return json.loads(state.products)
    products = product_map(ch, shop, api, names)
    with ch.db.write() as conn:
        put(conn, table, {"shop": shop.id}, products=json.dumps(products), products_key=key,
            products_at=ch.now())
    return products


def sync(ch: Certhook, shop: Shop) -> bool:
    """Write the shop's impact metafield if it changed; whether it was written."""
    api = ch.store(shop)
    assert isinstance(api, ShopifyApi)
    with ch.db.read() as conn:
        state = conn.execute(select(table).where(table.c.shop == shop.id)).first()
        value = storefront.feed(conn, shop, ch.names.cached(), ch.now())
    value.update(_products(ch, shop, api, state, storefront.names_of(value, ch.names.cached())))
    value["headline"] = _in_languages(shop, lambda lang: storefront.headline(value, lang))
    if len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) > LIMIT_BYTES:
        log.warning("shop %s: the products' map is over Shopify's 128 KB for a json metafield: "
                    "left out (%d products)", shop.id, len(value["products"]))
        value.update(texts={}, products={})
    digest = _digest(value)
    if state is not None and state.digest == digest:
        return False
    owner = (state.owner if state is not None else None) or api.shop_gid()
    api.set_impact(owner, value)
    with ch.db.write() as conn:
        put(conn, table, {"shop": shop.id}, owner=owner, digest=digest, written_at=ch.now())
    return True


def run_storefront_job(ch: Certhook, job: Job) -> None:
    shop, now = ch.shop(job.ref), ch.now()
    if shop is not None and wanted(shop):
        try:
            sync(ch, shop)
        except NotConnected:  # it waits, calling nothing, until the shop is connected again
            pass
    with ch.db.write() as conn:
        if shop is None or not wanted(shop):
            ch.queue.done(conn, job, now)  # the storefront was turned off: its job ends with it
        else:
            ch.queue.reschedule(conn, job, ch.now(), now + EVERY_SECONDS)
