"""The customer's page: an order's certificates, behind a signed link."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from ..models import ItemStatus
from ..store import find_order, items_of

bp = Blueprint("customer", __name__, template_folder="templates")
SALT = "certhook-customer-link"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.extensions["certhook"].settings.secret_key, salt=SALT)


def customer_token(shop: str, order_id: str) -> str:
    return _serializer().dumps([shop, order_id])


@bp.get("/c/<token>")
def page(token: str):  # type: ignore[no-untyped-def]
    try:
        shop, order_id = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        abort(404, "no such page")
    with current_app.extensions["certhook"].db.read() as conn:
        order = find_order(conn, shop, order_id)
        if order is None:
            abort(404, "no such page")
        items = [i for i in items_of(conn, [order.id])[order.id] if i.status == ItemStatus.ISSUED]
    return render_template("customer.html", order=order, items=items)
