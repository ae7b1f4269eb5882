"""Credentials cut out of every message certhook keeps or logs: a service may echo what it was
sent, in an error, as a header, a query string or JSON."""
from __future__ import annotations

import json
import threading
from collections import deque
from urllib.parse import quote, quote_plus

ROTATING_KEPT = 3  # a group's latest credentials hidden (a call may still echo the one before)
_FIXED: set[str] = set()  # the settings' credentials: hidden as long as the process lives
_ROTATING: dict[str, deque[frozenset[str]]] = {}  # tokens a store renews, by group
_HIDDEN: tuple[str, ...] = ()  # every form of all of them: never in a message, a log or a column
_LOCK = threading.Lock()


def _forms(secrets: tuple[str, ...]) -> set[str]:
    """As they are, and as a query string or a JSON answer (PHP's json_encode escapes "/") quote them."""
    return {form for s in secrets if len(s) >= 4 for text in (
        s, quote(s, safe=""), quote_plus(s), json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1])
        for form in (text, text.replace("/", "\\/"))}


def hide(*secrets: str, group: str | None = None) -> None:
    """Credentials to cut out of every error message (a service may echo what it was sent). A
    `group` (a shop's tokens) keeps only its latest few: a token renewed every hour adds none
    for ever."""
    global _HIDDEN  # noqa: PLW0603 - replaced whole, so a reader never sees it half made
    with _LOCK:
        if group is None:
            _FIXED.update(_forms(secrets))
        else:
            _ROTATING.setdefault(group, deque(maxlen=ROTATING_KEPT)).append(frozenset(_forms(secrets)))
        rotating = {form for kept in _ROTATING.values() for forms in kept for form in forms}
        _HIDDEN = tuple(sorted(_FIXED | rotating, key=len, reverse=True))  # longer forms first


def redacted(text: str) -> str:
    for secret in _HIDDEN:
        text = text.replace(secret, "[redacted]")
    return text
