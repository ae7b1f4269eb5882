"""The fake Shopify's app side, as platforms.md has it: the token endpoint's three grants (and
invalid_client), expiring tokens, rotating refresh tokens (the previous one good until the new
one is used), the authorize page, webhook subscriptions with their userErrors, and the
installation's access scopes."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .base import ANSWERED, Handler

CLIENT_ID = "fake-client-id-6f1e"
CLIENT_SECRET = "fake-client-secret-9d3c0a7b"
SCOPE = "read_orders,write_orders"
UNINSTALLED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


class AppSide:
    """Mixed into FakeShopify: the state of one app installed on one store."""

    def __init__(self, domain: str = "acme.myshopify.com") -> None:
        self.domain = domain
        self.installed = True
        self.token_life, self.expiring_life, self.refresh_life = 86399, 3600, 2592000
        self.access_tokens: dict[str, float] = {}  # token -> when it expires (the fake's clock)
        self.refresh_tokens: list[str] = []  # the current one last; the one before is still good
        self.codes: set[str] = set()
        self.grants: list[str] = []  # each token request's grant, in order (refused ones too)
        self.subscriptions: dict[str, dict[str, str]] = {}
        self.scope = SCOPE
        self._ids = itertools.count(1)

    def _new_token(self, life: float) -> str:
        token = f"shpat_{secrets.token_hex(12)}"
        self.access_tokens[token] = self.clock() + life
        return token

    def token_valid(self, token: str | None) -> bool:
        expires = self.access_tokens.get(token or "")
        return self.installed and expires is not None and self.clock() < expires

    def uninstall(self) -> None:
        with self.lock:
            self.installed = False
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def expire_tokens(self) -> None:
        with self.lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def token_endpoint(self, request: Handler, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            return request.send_json(400, {"error": "invalid_request"})
        kind = body.get("grant_type") or ("code" if "code" in body else "?")
        with self.lock:
            self.grants.append(kind)
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return request.send_json(400, {"error": "invalid_client",
                                           "error_description": "Client authentication failed"})
        if self.take_fault(request) == ANSWERED:
            return None
        with self.lock:
            answer = self._grant(kind, body)
        if answer is None:
            return request.send_json(400, {"error": "invalid_grant",
                                           "error_description": "The grant is invalid or expired"})
        if self._dropping:
            self._dropping = False
            return request.drop()
        return request.send_json(200, answer)

    def _grant(self, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if not self.installed:
            return None
        if kind == "client_credentials":
            return {"access_token": self._new_token(self.token_life), "scope": self.scope,
                    "expires_in": self.token_life}
        if kind == "code" and body.get("code") in self.codes and body.get("expiring") == "1":
            self.codes.discard(body["code"])
        elif kind == "refresh_token" and body.get("refresh_token") in self.refresh_tokens[-2:]:
            if body["refresh_token"] == self.refresh_tokens[-1]:
                self.refresh_tokens = self.refresh_tokens[-1:]  # the new one used: the old is gone
        else:
            return None
        refresh = f"shprt_{secrets.token_hex(12)}"
        self.refresh_tokens.append(refresh)
        return {"access_token": self._new_token(self.expiring_life), "scope": self.scope,
                "expires_in": self.expiring_life, "refresh_token": refresh,
                "refresh_token_expires_in": self.refresh_life}

    def drop_next_grant_answer(self) -> None:
        """The next grant is made, then the connection drops before its answer."""
        self._dropping = True

    _dropping = False

    def callback_query(self, redirect_uri: str, state: str, code: str | None = None,
                       secret: str = CLIENT_SECRET, **changes: str) -> str:
        """The URL Shopify sends the browser back to, signed as Shopify signs it."""
        if code is None:
            code = secrets.token_hex(16)
            with self.lock:
                self.codes.add(code)
        params = {"code": code, "host": "YWNtZS5teXNob3BpZnkuY29tL2FkbWlu", "shop": self.domain,
                  "state": state, "timestamp": str(int(self.clock())), **changes}
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["hmac"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return f"{redirect_uri}?{urlencode(params)}"

    def authorize_page(self, request: Handler) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        if query.get("client_id") != CLIENT_ID or not query.get("redirect_uri") or not query.get("state"):
            return request.send_json(400, {"errors": "Oauth error invalid_request"})
        target = self.callback_query(query["redirect_uri"], query["state"])
        page = (f"<!doctype html><title>Install app</title><h1>Install the app on {self.domain}</h1>"
                f"<p>Scopes: {escape(query.get('scope', ''))}</p>"
                f'<a id="install" href="{escape(target)}">Install app</a>').encode()
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(page)))
        request.end_headers()
        request.wfile.write(page)
        return None

    # --- GraphQL: subscriptions and scopes -------------------------------------------------

    def app_query(self, query: str, variables: dict[str, Any]) -> tuple[int, Any] | None:
        """(requested cost, how to answer) for the app-side queries; None for others."""
        if "webhookSubscriptions(first: 50)" in query:
            return 12, lambda: {"webhookSubscriptions": {"nodes": [
                {"id": i, **s} for i, s in sorted(self.subscriptions.items())]}}
        if "webhookSubscriptionCreate(topic: $topic" in query:
            return 10, lambda: {"webhookSubscriptionCreate": self._create(variables)}
        if "webhookSubscriptionUpdate(id: $id" in query:
            return 10, lambda: {"webhookSubscriptionUpdate": self._update(variables)}
        if "currentAppInstallation" in query:
            return 2, lambda: {"currentAppInstallation": {"accessScopes": [
                {"handle": h} for h in self.scope.split(",") if h]}}
        return None

    def _errors(self, uri: str, topic: str, skip: str = "") -> list[dict[str, Any]]:
        if not uri.startswith("https://"):
            return [{"field": ["webhookSubscription", "uri"],
                     "message": f"Address protocol {uri.split(':')[0]}:// is not supported"}]
        if any(s["topic"] == topic and s["uri"] == uri for i, s in self.subscriptions.items() if i != skip):
            return [{"field": ["webhookSubscription", "uri"],
                     "message": "Address for this topic has already been taken"}]
        return []

    def _create(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted, topic = variables.get("webhookSubscription") or {}, str(variables.get("topic"))
        with self.lock:
            errors = self._errors(str(wanted.get("uri", "")), topic)
            if errors:
                return {"webhookSubscription": None, "userErrors": errors}
            sid = f"gid://shopify/WebhookSubscription/{next(self._ids)}"
            self.subscriptions[sid] = {"topic": topic, "uri": wanted["uri"],
                                       "format": wanted.get("format", "JSON")}
        return {"webhookSubscription": {"id": sid}, "userErrors": []}

    def _update(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted, sid = variables.get("webhookSubscription") or {}, str(variables.get("id"))
        with self.lock:
            if sid not in self.subscriptions:
                return {"webhookSubscription": None, "userErrors": [
                    {"field": ["id"], "message": "Webhook subscription does not exist"}]}
            errors = self._errors(str(wanted.get("uri", "")), self.subscriptions[sid]["topic"], sid)
            if errors:
                return {"webhookSubscription": None, "userErrors": errors}
            self.subscriptions[sid].update(uri=wanted["uri"], format=wanted.get("format", "JSON"))
        return {"webhookSubscription": {"id": sid}, "userErrors": []}
