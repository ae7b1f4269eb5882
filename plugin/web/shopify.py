"""Connecting a client's Shopify store (authorization code grant): /shopify/install sends its
owner to approve the app; /shopify/callback checks what Shopify sends back, takes the expiring
token and registers the app's webhooks. Anything that doesn't check out is a 400 that stores
nothing."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..connections import AUTHORIZATION_CODE
from ..context import Certhook
from ..http import ApiError, NotConnected
from ..platforms import shopify_auth as oauth
from ..settings import Shop
from ..shopify_setup import subscribe

bp = Blueprint("shopify", __name__, template_folder="templates")
COOKIE = "certhook_shopify_state"
STATE_SECONDS = 600  # from the install link to the callback
FRESH_SECONDS = 300  # the callback's timestamp


def _page(code: int, heading: str, message: str, **more: object) -> Response:
    response = make_response(render_template("shopify.html", heading=heading, message=message, **more),
                             code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(message: str) -> Response:
    return _page(400, "certhook could not connect this store", message)


def _states(ch: Certhook) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ch.settings.secret_key, salt="certhook-shopify-state")


def _shop(ch: Certhook, domain: str) -> Shop | None:
    """A configured Shopify shop with a Dev Dashboard app, by its myshopify.com domain."""
    if not oauth.SHOP_DOMAIN.match(domain):
        return None
    shop = ch.settings.shop_for_domain("shopify", domain)
    return shop if shop is not None and shop.client_id else None


@bp.get("/shopify/install")
def install() -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    shop = _shop(ch, request.args.get("shop", "").strip().lower())
    if shop is None:
        return _refuse("This shop is not configured in certhook with a Dev Dashboard app "
                       "(client_id and client_secret).")
    if not ch.settings.public_url:
        return _refuse("certhook's public_url is not set in certhook.yaml: Shopify needs it to "
                       "send you back here.")
    if shop.connect != AUTHORIZATION_CODE:
        return _page(200, f"{shop.id} connects by itself", "This store belongs to the app's own "
                     "organization: certhook takes its own tokens (client credentials). To "
                     "register the webhooks, run certhook shopify connect.")
    state = secrets.token_urlsafe(24)  # letters, digits, - and _: a plain value
    response = redirect(oauth.authorize_url(shop, f"{ch.settings.public_url}/shopify/callback", state))
    response.set_cookie(COOKIE, _states(ch).dumps([shop.id, state]), max_age=STATE_SECONDS,
                        path="/shopify/", httponly=True, samesite="Lax",
                        secure=ch.settings.public_url.startswith("https://"))
    return response


def _problem(ch: Certhook, shop: Shop | None, params: dict[str, str]) -> str | None:
    """What is wrong with the callback, in the merchant's words; None if it checks out."""
    if shop is None:
        return "This shop is not configured in certhook with a Dev Dashboard app."
    if not oauth.signed_by(params, shop.client_secret):
        return "The link's HMAC does not match: it was not signed by Shopify for this app."
    try:
        kept = _states(ch).loads(request.cookies.get(COOKIE, ""), max_age=STATE_SECONDS)
    except BadSignature:
        kept = None
    state = params.get("state", "")
    if kept != [shop.id, state] or not oauth.STATE.match(state):
        return "The state does not match this browser's: start again from the install link."
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        stamp = 0
    if abs(ch.now() - stamp) > FRESH_SECONDS:
        return "The link is older than 5 minutes: start again from the install link."
    if not params.get("code"):
        return "The link carries no code."
    return None


@bp.get("/shopify/callback")
def callback() -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    params = request.args.to_dict()
    shop = _shop(ch, params.get("shop", "").strip().lower())
    problem = _problem(ch, shop, params)
    if problem is not None or shop is None:
        return _refuse(problem or "")
    try:
        grant = oauth.exchange(ch.connections.http(shop), shop, params["code"])
    except NotConnected as exc:
        return _refuse(exc.message)
    except ApiError as exc:
        return _page(502, "Shopify did not answer", f"{exc.message}. Start again from the install link.")
    ch.connections.installed(shop, grant)
    subscribed, trouble = subscribe(ch, shop)
    response = _page(200, f"{shop.id} is connected",
                     f"certhook is connected to {shop.domain} with the scopes {grant.scope or 'none'}.",
                     subscribed=subscribed, next_steps=[trouble] if trouble else [
                         "Pay an order in the store: its certificates appear on the dashboard "
                         "and on the order."])
    response.delete_cookie(COOKIE, path="/shopify/")
    return response
