"""The customer's page: an order's certificates, behind a signed link, no login; in the
customer's language (as the store said it, among the shop's), with the shop's name and colour."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, make_response, render_template
from flask_babel import force_locale

from .. import i18n
from ..links import read_customer_token
from ..statuses import ItemStatus
from ..store.orders import find_order, items_of

bp = Blueprint("customer", __name__, template_folder="templates")


def _locale(order_json: str) -> str:
    try:
        said = json.loads(order_json).get("locale")
    except (ValueError, AttributeError):
        return ""
    return said if isinstance(said, str) else ""


@bp.get("/c/<token>")
def page(token: str):  # type: ignore[no-untyped-def]
    ch = current_app.extensions["certhook"]
    found = read_customer_token(ch.settings, token)
    shop = ch.shop(found[0]) if found else None
    if found is None or shop is None:
        abort(404, "no such page")
    with ch.db.read() as conn:
        order = find_order(conn, *found)
        if order is None:
            abort(404, "no such page")
        items = [i for i in items_of(conn, [order.id])[order.id] if i.status == ItemStatus.ISSUED]
    lang = i18n.choose([_locale(order.order_json)], shop.storefront.languages)
    with force_locale(lang):
        response = make_response(render_template(
            "customer.html", order=order, items=items, lang=lang, front=shop.storefront,
            number=lambda n: i18n.number(n, lang), ordered=i18n.day(order.created_at, lang)))
    # The page names a customer: no shared cache keeps it, no browser stores it
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/c/accent/<shop_id>.css")
def accent(shop_id: str) -> Response:
    """The shop's colour for its customers' pages (a stylesheet: the pages allow no inline style)."""
    shop = current_app.extensions["certhook"].shop(shop_id)
    colour = shop.storefront.accent if shop is not None else ""
    response = Response(f":root {{ --accent: {colour}; }}\n" if colour else "", content_type="text/css")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
