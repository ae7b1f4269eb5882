"""The log: text or one JSON object per line (`log_format`), each line about a request carrying
its request id; gunicorn's access log in the same format, without query strings or the
customer's link token.

What certhook logs names shops, orders and fields by id, never a customer's data or a secret.
"""
from __future__ import annotations

import json
import logging
import random
import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from gunicorn.glogging import Logger

TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a proxy's X-Request-Id, if it looks like one
_CUSTOMER_LINK = re.compile(r"^/c/[^/]+")


class RequestId(logging.Filter):
    """Adds `request_id` to every record made while a request is handled (else None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


class Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return Json() if log_format == "json" else Text(TEXT)


def setup(log_format: str) -> None:
    """Log INFO and above to stderr in this format, unless logging was set up already."""
    root = logging.getLogger()
    if root.handlers:  # a test's capture, or an embedding application's own handlers
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestId())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # urllib3's own warnings (a retry, a full pool) quote the URL, query string and all (an
    # email, in a search): certhook's errors say what failed, by service and shop.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def request_ids(app: Flask) -> None:
    """Each request gets an id (a proxy's X-Request-Id if it sent a sane one), answered back."""
    @app.before_request
    def _assign() -> None:
        given = request.headers.get("X-Request-Id", "")
        # It tells log lines apart, it guards nothing: no system call for it on every request.
        g.request_id = given if _GIVEN_ID.match(given) else f"{random.getrandbits(64):016x}"

    @app.after_request
    def _answer(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response


ACCESS_TEXT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
ACCESS_JSON = ('{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
               '"status": %(s)s, "bytes": %(B)s, "ms": %(M)s, "request_id": "%({x-request-id}o)s"}')


def escaped(text: str, json_string: bool = False) -> str:
    """Text that stays on its line: a control character (a %0a in a path), a quote and a
    backslash escaped, as a JSON string's inside or as \\xNN. No quote is left for gunicorn
    to escape its own way (\\", which would break a JSON line)."""
    if json_string:
        return json.dumps(text, ensure_ascii=False)[1:-1].replace('\\"', "\\u0022")
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\x{ord(c):02x}" for c in text)


class AccessLog(Logger):  # type: ignore[misc]
    """gunicorn's logger: in JSON when the access log is, showing a customer link as /c/… (its
    token opens the customer's page), and what the client chose escaped."""

    json = False

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.json = cfg.access_log_format == ACCESS_JSON
        if self.json:
            for handler in self.error_log.handlers:
                handler.setFormatter(Json())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "m", "h"):  # the path, the method, the address
            atoms[key] = escaped(str(atoms[key]), self.json)
        atoms["U"] = _CUSTOMER_LINK.sub("/c/…", atoms["U"])
        return atoms
