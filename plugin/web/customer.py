"""The customer's page: an order's certificates, behind a signed link, no login."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, render_template

from ..links import read_customer_token
from ..statuses import ItemStatus
from ..store.orders import find_order, items_of

bp = Blueprint("customer", __name__, template_folder="templates")


@bp.get("/c/<token>")
def page(token: str):  # type: ignore[no-untyped-def]
    ch = current_app.extensions["certhook"]
    found = read_customer_token(ch.settings, token)
    if found is None or ch.shop(found[0]) is None:
        abort(404, "no such page")
    with ch.db.read() as conn:
        order = find_order(conn, *found)
        if order is None:
            abort(404, "no such page")
        items = [i for i in items_of(conn, [order.id])[order.id] if i.status == ItemStatus.ISSUED]
    response = make_response(render_template("customer.html", order=order, items=items))
    # The page names a customer: no shared cache keeps it, no browser stores it
    response.headers["Cache-Control"] = "private, no-store"
    return response
