"""The JSON API for the merchant and their programs (bearer admin token)."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from .. import links
from ..context import Certhook
from ..models import OrderStatus
from ..store.items import retry_order
from ..store.orders import find_order, items_of, list_orders, order_json

bp = Blueprint("api", __name__)


def _ch() -> Certhook:
    return current_app.extensions["certhook"]


@bp.before_request
def bearer() -> None:
    if request.endpoint == "api.healthz":
        return
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {_ch().settings.admin_token}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401, "a valid bearer token is required")


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    try:
        ok = _ch().db.ping()
    except Exception:
        ok = False
    return jsonify(status="ok" if ok else "database unavailable"), 200 if ok else 503


def customer_url(shop: str, order_id: str) -> str | None:
    return links.customer_url(_ch().settings, shop, order_id, request.host_url)


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
