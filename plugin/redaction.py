"""Credentials cut out of every message certhook keeps or logs: a service may echo what it was
sent, in an error, as a header, a query string or JSON."""
from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

_HIDDEN: list[str] = []  # this process's credentials: never in a message, a log or a column


def hide(*secrets: str) -> None:
    """Credentials to cut out of every error message (a service may echo what it was sent): as
    they are, and as a query string or a JSON answer (PHP's json_encode escapes "/") quote them."""
    forms = {form for s in secrets if len(s) >= 4 for text in (
        s, quote(s, safe=""), quote_plus(s), json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1])
        for form in (text, text.replace("/", "\\/"))}
    _HIDDEN[:] = sorted(forms.union(_HIDDEN), key=len, reverse=True)  # longer forms first


def redacted(text: str) -> str:
    for secret in _HIDDEN:
        text = text.replace(secret, "[redacted]")
    return text
