"""The JSON API for the merchant and their programs (bearer admin token)."""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import update
from werkzeug.exceptions import TooManyRequests

from .. import links
from ..context import Certhook
from ..jobs import processes
from ..models import health
from ..statuses import OrderStatus
from ..store.items import retry_order
from ..store.orders import find_order, iso, items_of, list_orders, order_json
from .throttle import Throttle

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)


def _ch() -> Certhook:
    return current_app.extensions["certhook"]


@bp.before_request
def bearer() -> None:
    if request.endpoint == "api.healthz":
        return
    ch, client = _ch(), request.remote_addr or "?"
    throttle = Throttle(ch.db, "api")
    wait = throttle.wait(client, ch.now())
    if wait > 0:
        raise TooManyRequests("too many wrong tokens: wait and try again",
                              retry_after=int(wait) + 1)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {ch.settings.admin_token}".encode()):
        throttle.failed(client, ch.now())
        abort(401, "a valid bearer token is required")


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 when the database takes a write; it names the job processes whose heartbeat stopped."""
    ch = _ch()
    now = ch.now()
    try:
        with ch.db.write() as conn:
            if not conn.execute(update(health).where(health.c.id == 1)
                                .values(checked_at=now)).rowcount:
                conn.execute(ch.db.insert_new(health, "id"), {"id": 1, "checked_at": now})
            alive, silent = processes.census(conn, now, ch.settings.lease_seconds)
    except Exception as exc:  # a full disk, a read-only or unreachable database
        log.error("healthz: the database takes no write: %s", exc)
        return jsonify(status="database unavailable",
                       error="the database does not take a write; see the log"), 503
    stopped = [{"id": p.id, "role": p.role, "last_heartbeat": iso(p.heartbeat_at)} for p in silent]
    return jsonify(status="degraded" if stopped else "ok", database="ok",
                   processes={"alive": alive, "heartbeat_stopped": stopped})


def customer_url(shop: str, order_id: str) -> str | None:
    return links.customer_url(_ch().settings, shop, order_id)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name} must be a whole number")
    if not low <= value <= high:
        abort(400, f"{name} must be between {low} and {high}")
    return value


@bp.get("/api/orders")
def orders_index():  # type: ignore[no-untyped-def]
    status = request.args.get("status") or None
    if status and status not in {s.value for s in OrderStatus}:
        abort(400, f"status must be one of {', '.join(s.value for s in OrderStatus)}")
    page = _int_arg("page", 1, 1, 10**6)
    per_page = _int_arg("per_page", 50, 1, 200)
    with _ch().db.read() as conn:
        rows, total = list_orders(conn, request.args.get("shop") or None, status,
                                  request.args.get("q") or None, page, per_page)
    data = [order_json(r, items, customer_url(r.shop, r.order_id)) for r, items in rows]
    return jsonify(data=data, meta={"page": page, "per_page": per_page, "total": total})


@bp.get("/api/orders/<shop>/<order_id>")
def order_detail(shop: str, order_id: str):  # type: ignore[no-untyped-def]
    with _ch().db.read() as conn:
        row = find_order(conn, shop, order_id)
        if row is None:
            abort(404, "no such order")
        items = items_of(conn, [row.id])[row.id]
    return jsonify(order_json(row, items, customer_url(shop, order_id)))


@bp.post("/api/orders/<shop>/<order_id>/retry")
def order_retry(shop: str, order_id: str):  # type: ignore[no-untyped-def]
    retried = retry_order(_ch(), shop, order_id)
    if retried is None:
        abort(404, "no such order")
    with _ch().db.read() as conn:
        row = find_order(conn, shop, order_id)
        items = items_of(conn, [row.id])[row.id]
    return jsonify(retried=retried, order=order_json(row, items, customer_url(shop, order_id)))
