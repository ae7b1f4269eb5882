"""Store webhooks, one view for every platform through its adapter: verify, record, answer.

The issuing happens in the background; the order and its first job are recorded in one
transaction before the 200 goes out.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import Connection

from ..connections import disconnect
from ..context import Certhook
from ..orders import Order, PayloadError
from ..platforms import ADAPTERS, Adapter, Change, Plain, Topic, Webhook
from ..settings import Shop
from ..store.changes import apply_change
from ..store.orders import SEEN, delivered, record_delivery, record_order
from ..store.privacy import forget_shop, redact_customer

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
# An oversized body is still read (and thrown away) up to this much, so the sender gets its 413
# instead of a connection reset halfway through sending; past it we stop reading at once.
DRAIN_LIMIT = 8 * 1024 * 1024
# Verifying against this when the shop is unknown keeps both 401s alike, in time too.
_NO_SECRET = "certhook-unknown-shop"
Answer = tuple[Response, int]
ACTED_ON = (Topic.HANDLED, Topic.CHANGE)


def answer(status: str, code: int = 200) -> Answer:
    return jsonify(status=status), code


def refuse(code: int, error: str) -> Answer:
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


def redact(ch: Certhook, adapter: Adapter, shop: Shop, hook: Webhook, payload: dict[str, Any]) -> Answer:
    """A privacy topic: erase a customer's data or everything held for a shop, or record a
    customer's data request."""
    erasure = adapter.erasure(shop, hook.topic, payload)
    with ch.db.write() as conn:
        if seen(conn, adapter, shop, hook):
            record_delivery(conn, ch.now(), shop.id, hook.topic, hook.event_id, None, "duplicate", SEEN)
            return answer("duplicate")
        if erasure.request_only:
            record_delivery(conn, ch.now(), shop.id, hook.topic, hook.event_id, None, "ignored",
                            "a data request: the merchant answers it from the dashboard or the API")
            return answer("ignored")
        count = forget_shop(conn, shop.id) if erasure.whole_shop else \
            redact_customer(ch, conn, shop.id, erasure.order_ids, erasure.email)
        record_delivery(conn, ch.now(), shop.id, hook.topic, hook.event_id, None, "accepted",
                        f"{count} order(s)")
    log.info("shop %s: %s erased %d order(s)", shop.id, hook.topic[:64], count)
    return answer("accepted")


def uninstall(ch: Certhook, adapter: Adapter, shop: Shop, hook: Webhook, payload: dict[str, Any]) -> Answer:
    """The app was removed from the store: its tokens are dropped and nothing calls the store
    until it is connected again (an admin-created app's shop has no such topic: ignored)."""
    adapter.uninstalled(shop, payload)
    with ch.db.write() as conn:
        if seen(conn, adapter, shop, hook):
            outcome, why = "duplicate", SEEN
        elif not shop.client_id:
            outcome, why = "ignored", "not a Dev Dashboard app's shop"
        else:
            disconnect(conn, shop, ch.now(), f"the app was uninstalled from {shop.domain}")
            outcome, why = "accepted", "the app was uninstalled: disconnected"
        record_delivery(conn, ch.now(), shop.id, hook.topic, hook.event_id, None, outcome, why)
    if outcome == "accepted":
        log.warning("shop %s: the app was uninstalled; write-backs wait until it is connected again",
                    shop.id)
    return answer(outcome)


def seen(conn: Connection, adapter: Adapter, shop: Shop, hook: Webhook) -> bool:
    """An event received before, by the store's id for it: a duplicate, whatever its body."""
    return bool(adapter.unique_event_ids and hook.event_id) and delivered(conn, shop.id, hook.event_id)


@dataclass(frozen=True)
class Reading:
    """What an authenticated delivery says, read before anything is written."""

    paid: tuple[Plain, str] | None = None  # a plain paid order, and its body for its evaluation
    order: Order | None = None
    change: Change | None = None  # a cancellation or a refund
    ignore: str | None = None  # why it is not acted on

    @property
    def order_id(self) -> str | None:
        which = self.paid[0] if self.paid else self.change or self.order
        return which.order_id if which else None


def read(adapter: Adapter, shop: Shop, hook: Webhook, payload: dict[str, Any], topic: Topic,
         body: bytes) -> Reading:
    paid = plain(adapter, shop, topic, payload, body)
    if paid is not None:
        return Reading(paid=paid)
    ignore = "topic not handled" if topic not in ACTED_ON else adapter.ignore(shop, payload)
    if ignore is not None:
        return Reading(ignore=ignore)
    order = adapter.normalize(shop.id, payload) if topic == Topic.HANDLED else None
    change = adapter.change(shop, hook.topic, payload, order)
    if any(o is not None and o.test for o in (order, change and change.order)):
        return Reading(order=order, change=change, ignore="test order")
    return Reading(order=order, change=change)


def record(ch: Certhook, adapter: Adapter, shop: Shop, hook: Webhook, reading: Reading,
           conn: Connection) -> str:
    """The delivery's part of a write transaction: the order and its job, or the change; and
    the delivery itself, with what became of it."""
    outcome, why = "ignored", reading.ignore
    order, change = reading.order, reading.change
    if seen(conn, adapter, shop, hook):
        outcome, why = "duplicate", SEEN
    elif reading.paid is not None:
        paid, body = reading.paid
        outcome = "accepted" if record_order(ch, conn, shop.id, paid, payload=body) else "duplicate"
    elif why is None and change is not None and (change.ends_it or order is None):
        outcome = apply_change(ch, conn, shop.id, change)
    elif why is None and order is not None:
        recorded = record_order(ch, conn, shop.id, order)
        # a paid order partly refunded already: the refund is news even when the order isn't
        changed = change is not None and apply_change(ch, conn, shop.id, change) == "accepted"
        outcome = "accepted" if recorded or changed else "duplicate"
    record_delivery(conn, ch.now(), shop.id, hook.topic, hook.event_id, reading.order_id, outcome, why)
    return outcome


def receive(ch: Certhook, adapter: Adapter, shop: Shop, hook: Webhook, payload: dict[str, Any],
            topic: Topic, body: bytes) -> Answer:
    """Record an authenticated delivery, committed with the others this process receives at
    the same moment, before its answer goes out."""
    reading = read(adapter, shop, hook, payload, topic, body)
    outcome = ch.db.write_together(partial(record, ch, adapter, shop, hook, reading))
    log.info("shop %s order %s (%s): %s", shop.id, reading.order_id, hook.topic[:64], outcome)
    return answer(outcome)


def plain(adapter: Adapter, shop: Shop, topic: Topic, payload: dict[str, Any], body: bytes
          ) -> tuple[Plain, str] | None:
    """A plain paid order (whose and which), and the body as text for its evaluation to read;
    else None: it is read now."""
    if topic != Topic.HANDLED:
        return None
    paid = adapter.plain_order(shop, payload)
    try:
        return None if paid is None else (paid, body.decode())
    except UnicodeDecodeError:  # JSON in UTF-16 or UTF-32
        return None


def act(ch: Certhook, adapter: Adapter, shop: Shop, hook: Webhook, payload: dict[str, Any],
        body: bytes) -> Answer:
    topic = adapter.topic(hook.topic)
    if topic == Topic.UNKNOWN:
        log.info("shop %s: unknown topic %r answered and ignored", shop.id, hook.topic[:64])
    try:
        if topic == Topic.PRIVACY:
            return redact(ch, adapter, shop, hook, payload)
        if topic == Topic.UNINSTALLED:
            return uninstall(ch, adapter, shop, hook, payload)
        return receive(ch, adapter, shop, hook, payload, topic, body)
    except PayloadError as exc:  # it names the field, never its value
        log.info("shop %s: %s refused: %s", shop.id, hook.topic[:64], exc)
        return refuse(400, f"cannot read the {'request' if topic == Topic.PRIVACY else 'order'}: {exc}")


@bp.post("/webhooks/<platform>")
def webhook(platform: str) -> Answer:
    ch: Certhook = current_app.extensions["certhook"]
    adapter = ADAPTERS.get(platform)
    if adapter is None:
        abort(404, "no such webhook")
    body = read_body()
    if body is None:
        return refuse(413, "body over 1 MiB")
    if adapter.is_ping(body, request.headers):
        return answer("ignored")  # the store testing the URL: record nothing
    hook = adapter.webhook(request.headers)
    shop = ch.settings.shop_for_domain(adapter.name, hook.domain)
    # 401 for an unknown shop or a bad signature alike; 400 for a body that isn't a JSON object.
    # Every key is tried (an app's client secret, an admin webhook's key), each in constant time
    keys = shop.webhook_secrets if shop else (_NO_SECRET,)
    signed = [adapter.verify(body, key, hook.signature) for key in keys]
    if not any(signed) or shop is None:
        return refuse(401, "unknown shop or bad signature")
    payload = parse_object(body)
    if payload is None:
        return refuse(400, "the body is not a JSON object")
    return act(ch, adapter, shop, hook, payload, body)
