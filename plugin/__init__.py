"""certhook: order webhooks in, impact certificates out, exactly once."""
from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask, Request, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from . import i18n, logs
from .context import Certhook, build
from .settings import load_settings
from .web import (
    api,
    badges,
    bodies,
    customer,
    dashboard,
    events_page,  # noqa: F401  (its routes hang on the dashboard's blueprint)
    feed,
    metrics,
    openapi,
    samples_page,  # noqa: F401  (its route hangs on the dashboard's blueprint)
    shopify,
    webhooks,
)
from .web.security import secure


class _Sessions(SecureCookieSessionInterface):
    """The session cookie is Secure whenever certhook is served over https."""

    def __init__(self, https: bool):
        self.https = https

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.https or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A request without the cookie (a webhook, an API call) starts an empty session
        without building the cookie's signer first."""
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(config: str | os.PathLike[str] | None = None, ch: Certhook | None = None) -> Flask:
    """The web app for certhook.yaml at `config` (or $CERTHOOK_CONFIG, ./certhook.yaml)."""
    if ch is None:
        ch = build(load_settings(config))
    app = Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=ch.settings.secret_key, MAX_CONTENT_LENGTH=None,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="certhook_session")
    app.session_interface = _Sessions(ch.settings.public_url.startswith("https://"))
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keys in the contract's order
    app.extensions["certhook"] = ch
    logs.setup(ch.settings.log_format)
    logs.request_ids(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(customer.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(shopify.bp)
    app.register_blueprint(feed.bp)
    app.register_blueprint(badges.bp)
    i18n.setup(app)
    bodies.limit(app)
    secure(app, ch.settings.trusted_proxies)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if request.blueprint in ("dashboard", "customer", "shopify"):
            response = app.make_response((render_template("error.html", error=exc), exc.code))
        else:
            response = app.make_response((jsonify(error=exc.description), exc.code))
        response.headers.update({k: v for k, v in exc.get_headers() if k != "Content-Type"})
        if exc.code == 413:  # the rest of the body is not read: the connection can't go on
            response.headers["Connection"] = "close"
        return response

    return app
