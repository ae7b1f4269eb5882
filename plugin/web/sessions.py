"""The CSRF token of a dashboard session."""
from __future__ import annotations

import secrets

from flask import session


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]
