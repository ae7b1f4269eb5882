"""The public impact feed and what a product earns: /impact/{shop}.json and
/impact/{shop}/earns.json. No login and nothing personal; cacheable by anyone (an ETag, 5
minutes), readable from any origin; 404 for a shop that hasn't turned its storefront on.

A shop's feed is read from the database at most once every FRESH_SECONDS per process: a burst
of readers (a CDN's misses, a busy product page) costs one read, and an issued certificate
still shows within 10 s."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from .. import storefront
from ..context import Certhook
from ..settings import Shop

bp = Blueprint("feed", __name__)
MAX_AGE = 300
FRESH_SECONDS = 5.0


class Recent:
    """What was read lately, per shop, for FRESH_SECONDS of certhook's clock."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}

    def feed(self, ch: Certhook, shop: Shop) -> dict[str, Any]:
        now = ch.now()
        kept = self._kept.get(shop.id)
        if kept is None or not 0 <= now - kept[0] < FRESH_SECONDS:
            with ch.db.read() as conn:
                kept = (now, storefront.feed(conn, shop, ch.names.cached(), now))
            self._kept[shop.id] = kept
        return kept[1]


def recent() -> Recent:
    return current_app.extensions.setdefault("certhook_storefront", Recent())


def shop_of(ch: Certhook, shop_id: str) -> Shop:
    shop = ch.shop(shop_id)
    if shop is None or not shop.storefront.enabled:
        abort(404, "no such shop")
    return shop


def public(body: Any, content_type: str = "application/json") -> Response:
    """An answer anyone may cache and read (JSON, unless given as bytes), 304 when the client
    has it already."""
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False,
                                                           separators=(",", ":")).encode()
    response = Response(data, content_type=content_type)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@bp.get("/impact/<shop_id>.json")
def feed(shop_id: str) -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    return public(recent().feed(ch, shop_of(ch, shop_id)))


def earned(ch: Certhook, shop: Shop) -> dict[str, Any]:
    """What the line the query describes earns (400 naming a parameter that can't describe one)."""
    feed_ = recent().feed(ch, shop)
    try:
        answer = storefront.earns(ch.rules[shop.id], shop, request.args,
                                  storefront.names_of(feed_, ch.names.cached()))
    except storefront.BadQuery as exc:
        abort(400, str(exc))
    return {**answer, "paused": feed_["paused"]}


@bp.get("/impact/<shop_id>/earns.json")
def earns(shop_id: str) -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    return public(earned(ch, shop_of(ch, shop_id)))
