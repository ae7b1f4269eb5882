"""The public impact feed and what a product earns: /impact/{shop}.json and
/impact/{shop}/earns.json. No login and nothing personal; cacheable by anyone (an ETag, 5
minutes), readable from any origin; 404 for a shop that hasn't turned its storefront on.

A shop's feed is read from the database at most once every FRESH_SECONDS per process: a burst
of readers (a CDN's misses, a busy product page) costs one read, and an issued certificate
still shows within 10 s."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from .. import storefront
from ..context import Certhook
from ..settings import Shop

bp = Blueprint("feed", __name__)
MAX_AGE = 300
FRESH_SECONDS = 5.0
# When a shop's feed was read, the feed, and the answers made from it with their ETags
Entry = tuple[float, dict[str, Any], dict[Any, tuple[bytes, str]]]


class Recent:
    """What was read lately, per shop, for FRESH_SECONDS of certhook's clock: its feed, and the
    answers made from it (the JSON, each badge) with their ETags, so a revalidation is a lookup."""

    def __init__(self) -> None:
        self._kept: dict[str, Entry] = {}

    def _entry(self, ch: Certhook, shop: Shop) -> Entry:
        now = ch.now()
        kept = self._kept.get(shop.id)
        if kept is None or not 0 <= now - kept[0] < FRESH_SECONDS:
            with ch.db.read() as conn:
                kept = (now, storefront.feed(conn, shop, ch.names.cached(), now), {})
            self._kept[shop.id] = kept
        return kept

    def feed(self, ch: Certhook, shop: Shop) -> dict[str, Any]:
        return self._entry(ch, shop)[1]

    def answer(self, ch: Certhook, shop: Shop, key: Any,
               make: Callable[[dict[str, Any]], bytes]) -> tuple[bytes, str]:
        """An answer made from the shop's feed (a few kinds per shop), and its ETag."""
        _, feed_, made = self._entry(ch, shop)
        if key not in made:
            data = make(feed_)
            made[key] = (data, etag_of(data))
        return made[key]


def recent() -> Recent:
    return current_app.extensions.setdefault("certhook_feed", Recent())


def shop_of(ch: Certhook, shop_id: str) -> Shop:
    shop = ch.shop(shop_id)
    if shop is None or not shop.storefront.enabled:
        abort(404, "no such shop")
    return shop


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def encoded(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def public(data: bytes, content_type: str = "application/json", etag: str | None = None) -> Response:
    """An answer anyone may cache and read; 304, with no body made, when the client has it."""
    etag = etag or etag_of(data)
    fresh = request.if_none_match.contains(etag)
    response = Response(b"" if fresh else data, status=304 if fresh else 200, content_type=content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/impact/<shop_id>.json")
def feed(shop_id: str) -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    data, etag = recent().answer(ch, shop_of(ch, shop_id), "json", encoded)
    return public(data, "application/json", etag)


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
    return public(encoded(earned(ch, shop_of(ch, shop_id))))
