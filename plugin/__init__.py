"""certhook: order webhooks in, impact certificates out, exactly once."""
from __future__ import annotations

import logging
import os

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .context import Certhook, build
from .settings import load_settings


def create_app(config: str | os.PathLike[str] | None = None, ch: Certhook | None = None) -> Flask:
    """The web app for certhook.yaml at `config` (or $CERTHOOK_CONFIG, ./certhook.yaml)."""
    if ch is None:
        ch = build(load_settings(config))
    app = Flask(__name__)
    app.config.update(SECRET_KEY=ch.settings.secret_key, MAX_CONTENT_LENGTH=None,
                      JSON_SORT_KEYS=False)
    app.extensions["certhook"] = ch
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from .web import api, customer, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(customer.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        return jsonify(error=exc.description), exc.code

    return app
