"""Store webhooks: verify, record, answer. The issuing happens in the background."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..context import Certhook
from ..orders import Order, PayloadError
from ..platforms import shopify, woocommerce
from ..platforms.signatures import verify
from ..settings import Shop
from ..store import forget_shop, record_delivery, record_order, redact_customer

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
# An oversized body is still read (and thrown away) up to this much, so the sender gets its 413
# instead of a connection reset halfway through sending; past it we stop reading at once.
DRAIN_LIMIT = 8 * 1024 * 1024
# Verifying against this when the shop is unknown keeps both 401s alike, in time too.
_NO_SECRET = "certhook-unknown-shop"


def answer(status: str, code: int = 200) -> tuple[Response, int]:
    return jsonify(status=status), code


def refuse(code: int, error: str) -> tuple[Response, int]:
    response = jsonify(error=error)
    if code == 413:
        response.headers["Connection"] = "close"
    return response, code


def read_body(limit: int = MAX_BODY) -> bytes | None:
    """The raw body, or None if it's over the limit, chunked or not.

    Werkzeug cuts a chunked body at MAX_CONTENT_LENGTH without a word, so we read the
    stream ourselves (MAX_CONTENT_LENGTH stays unset) and count.
    """
    if request.content_length is not None and request.content_length > DRAIN_LIMIT:
        return None
    chunks, size = [], 0
    while chunk := request.stream.read(64 * 1024):
        size += len(chunk)
        if size > DRAIN_LIMIT:
            return None
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


def parse_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return payload if isinstance(payload, dict) else None


def verified(shop: Shop | None, body: bytes, signature: str | None
             ) -> tuple[dict[str, Any], None] | tuple[None, tuple[Response, int]]:
    """(the payload, None), or (None, the answer): 401 for an unknown shop or a bad signature
    (one answer for both), 400 for a body that isn't a JSON object."""
    if not verify(body, shop.webhook_secret if shop else _NO_SECRET, signature) or shop is None:
        return None, refuse(401, "unknown shop or bad signature")
    payload = parse_object(body)
    if payload is None:
        return None, refuse(400, "the body is not a JSON object")
    return payload, None


def redact(ch: Certhook, shop: Shop, topic: str, event_id: str | None, payload: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Shopify's privacy topics: erase a customer's data, or everything held for a shop."""
    with ch.db.write() as conn:
        if topic == "shop/redact":
            count = forget_shop(conn, shop.id)
        else:
            customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
            order_ids = [str(i) for i in payload.get("orders_to_redact") or [] if i is not None]
            count = redact_customer(ch, conn, shop.id, order_ids, str(customer.get("email") or ""))
        record_delivery(ch, conn, shop.id, topic, event_id, None, "accepted", f"{count} order(s)")
    log.info("shop %s: %s erased %d order(s)", shop.id, topic, count)
    return answer("accepted")


def receive(ch: Certhook, shop: Shop, topic: str, event_id: str | None, payload: dict[str, Any],
            normalize: Callable[[str, dict[str, Any]], Order], ignore: str | None):
    """Record an authenticated delivery: the order and its job in one transaction, or why not."""
    order_id = str(payload["id"]) if payload.get("id") is not None else None
    order = None
    if ignore is None:
        try:
            order = normalize(shop.id, payload)
        except PayloadError as exc:
            return refuse(400, f"cannot read the order: {exc}")
        if order.test:
            ignore = "test order"
    with ch.db.write() as conn:
        if order is None or ignore is not None:
            outcome = "ignored"
        else:
            outcome = "accepted" if record_order(ch, conn, order) else "duplicate"
        record_delivery(ch, conn, shop.id, topic, event_id, order_id and order_id[:64], outcome,
                        ignore)
    log.info("shop %s order %s (%s): %s", shop.id, order_id, topic[:64], outcome)
    return answer(outcome)


@bp.post("/webhooks/shopify")
def shopify_webhook():  # type: ignore[no-untyped-def]
    ch: Certhook = current_app.extensions["certhook"]
    body = read_body()
    if body is None:
        return refuse(413, "body over 1 MiB")
    shop = ch.settings.shop_for_domain("shopify", request.headers.get("X-Shopify-Shop-Domain", ""))
    payload, problem = verified(shop, body, request.headers.get("X-Shopify-Hmac-Sha256"))
    if payload is None or shop is None:
        return problem
    topic = request.headers.get("X-Shopify-Topic", "")
    if topic not in (*shopify.HANDLED, *shopify.REDACT, *shopify.IGNORED):
        log.info("shop %s: unknown topic %r answered and ignored", shop.id, topic[:64])
    event_id = request.headers.get("X-Shopify-Event-Id") or request.headers.get("X-Shopify-Webhook-Id")
    if topic in shopify.REDACT:
        return redact(ch, shop, topic, event_id, payload)
    return receive(ch, shop, topic, event_id, payload, shopify.normalize,
                   None if topic in shopify.HANDLED else "topic not handled")


@bp.post("/webhooks/woocommerce")
def woocommerce_webhook():  # type: ignore[no-untyped-def]
    ch: Certhook = current_app.extensions["certhook"]
    body = read_body()
    if body is None:
        return refuse(413, "body over 1 MiB")
    signature = request.headers.get("X-WC-Webhook-Signature")
    if woocommerce.is_ping(body, signature):
        return answer("ignored")  # saving the webhook in WooCommerce sends this; record nothing
    domain = woocommerce.source_domain(request.headers.get("X-WC-Webhook-Source", ""))
    shop = ch.settings.shop_for_domain("woocommerce", domain)
    payload, problem = verified(shop, body, signature)
    if payload is None or shop is None:
        return problem
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    # Deduplication is on (shop, order): X-WC-Webhook-Delivery-ID repeats within a second.
    event_id = request.headers.get("X-WC-Webhook-Delivery-ID")
    if topic not in woocommerce.HANDLED:
        ignore = "topic not handled"
    elif payload.get("status") not in shop.trigger_statuses:
        ignore = f"status {str(payload.get('status'))[:32]!r} is not a trigger status"
    else:
        ignore = None
    return receive(ch, shop, topic, event_id, payload, woocommerce.normalize, ignore)
