"""Shopify's OAuth for a Dev Dashboard app: the grants that give certhook its tokens, the install
redirect, and the callback's HMAC. Calls only; what is kept of them is connections.py's."""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..http import ApiError, Client, NotConnected, Response, Transient
from ..redaction import hide
from ..settings import Shop

SERVICE = "Shopify"
TOKEN_PATH = "/admin/oauth/access_token"
SCOPES = ("read_orders", "write_orders")
STOREFRONT_SCOPES = ("read_products",)  # what each product earns, for a storefront shop
SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
STATE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # plain: every HMAC convention agrees on it


@dataclass(frozen=True)
class Grant:
    """What Shopify's token endpoint gave: an access token, and with an expiring offline token
    the refresh token that renews it. Lifetimes are in seconds (None: it doesn't expire)."""

    access_token: str
    scope: str
    expires_in: float | None
    refresh_token: str = ""
    refresh_expires_in: float | None = None


def oauth_client(shop: Shop) -> Client:
    """The shop's OAuth endpoints: at the origin of its api_url, under the shop's call limits."""
    return Client(SERVICE, shop.origin, (shop.connect_timeout, shop.read_timeout),
                  max_bytes=shop.max_answer_bytes)


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 \
        else None


def _refused(shop: Shop, response: Response) -> ApiError:
    """A grant Shopify would not give: bad app credentials, or a code or refresh token it won't
    take. It waits for the merchant (NotConnected); a 5xx is passing (Transient)."""
    if response.status_code >= 500 or response.status_code == 429:
        return Transient(f"{SERVICE}: the token endpoint answered {response.status_code}",
                         response.status_code)
    try:
        said = response.json()
    except ValueError:
        said = {}
    error = said.get("error") if isinstance(said, dict) else None
    if error == "invalid_client" or response.status_code in (401, 403):
        return NotConnected(f"Shopify refused certhook's app credentials for {shop.id} (check "
                            "client_id and client_secret)", response.status_code)
    detail = said.get("error_description") if isinstance(said, dict) else None
    return NotConnected(f"Shopify refused the grant for {shop.id}: {error or response.status_code}"
                        + (f": {str(detail)[:200]}" if detail else ""), response.status_code)


def request_token(http: Client, shop: Shop, **grant: str) -> Grant:
    """POST {origin}/admin/oauth/access_token with the app's credentials and one grant."""
    body = {"client_id": shop.client_id, "client_secret": shop.client_secret, **grant}
    response = http.request("POST", TOKEN_PATH, allow=tuple(range(400, 600)), json=body)
    if response.status_code != 200:
        raise _refused(shop, response)
    try:
        said = response.json()
    except ValueError:
        raise Transient(f"{SERVICE}: the token endpoint's answer is not JSON", 200) from None
    token = said.get("access_token") if isinstance(said, dict) else None
    if not isinstance(token, str) or not token:
        raise Transient(f"{SERVICE}: the token endpoint's answer has no access_token", 200)
    refresh = said.get("refresh_token")
    refresh = refresh if isinstance(refresh, str) else ""
    hide(token, refresh, group=f"shopify:{shop.id}")
    return Grant(token, str(said.get("scope") or ""), _seconds(said.get("expires_in")), refresh,
                 _seconds(said.get("refresh_token_expires_in")))


def client_credentials(http: Client, shop: Shop) -> Grant:
    """A token for a store of the app's own organization: about a day."""
    return request_token(http, shop, grant_type="client_credentials")


def exchange(http: Client, shop: Shop, code: str) -> Grant:
    """The install's code for an expiring offline token (an hour) and its refresh token."""
    return request_token(http, shop, code=code, expiring="1")


def refresh(http: Client, shop: Shop, refresh_token: str) -> Grant:
    """A new access token and a new refresh token (the old one holds until the new is used)."""
    return request_token(http, shop, refresh_token=refresh_token, grant_type="refresh_token")


def scopes(shop: Shop) -> tuple[str, ...]:
    """What the app asks for: orders, and the products too when the storefront is on."""
    return SCOPES + (STOREFRONT_SCOPES if shop.storefront.enabled else ())


def authorize_url(shop: Shop, redirect_uri: str, state: str) -> str:
    """Where /shopify/install sends the store's owner to approve the app."""
    query = urlencode({"client_id": shop.client_id, "scope": ",".join(scopes(shop)),
                       "redirect_uri": redirect_uri, "state": state})
    return f"{shop.origin}/admin/oauth/authorize?{query}"


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of the query's other parameters, sorted by name, joined k=v&k=v."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_by(params: Mapping[str, str], secret: str) -> bool:
    """Whether the callback's query carries the HMAC of its parameters, compared in constant time."""
    return hmac.compare_digest(query_hmac(params, secret).encode(), params.get("hmac", "").encode())
