"""A dashboard session: signing in with the admin token (throttled per client), its CSRF token,
and what ends it: signing out anywhere, or a new admin_token."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import abort, request, session

from ..context import Certhook
from .throttle import Throttle, end_sessions, session_epoch


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    given = request.form.get("csrf_token", "")
    if not hmac.compare_digest(given.encode(), session.get("csrf", "").encode()) or not given:
        abort(400, "the form has expired: reload the page and try again")


def _token_mark(ch: Certhook) -> str:
    """Which admin_token the session was opened with: keyed with secret_key, so the (readable)
    cookie tells nothing of the token."""
    return hmac.new(ch.settings.secret_key.encode(), ch.settings.admin_token.encode(),
                    hashlib.sha256).hexdigest()[:32]


def signed_in(ch: Certhook) -> bool:
    """Whether this browser's session is signed in still: not signed out since, anywhere, and
    opened with today's admin_token."""
    if session.get("admin") and (session.get("epoch") != session_epoch(ch.db)
                                 or session.get("token") != _token_mark(ch)):
        session.clear()
    return bool(session.get("admin"))


def sign_in(ch: Certhook, token: str) -> tuple[int, float]:
    """Try `token`: (200, 0) signed in, (401, 0) a wrong token, (429, wait) wait first."""
    throttle, address = Throttle(ch.db, "dashboard"), request.remote_addr or "?"
    wait = throttle.wait(address, ch.now())
    if wait > 0:
        return 429, wait
    if not hmac.compare_digest(token.encode(), ch.settings.admin_token.encode()):
        throttle.failed(address, ch.now())
        return 401, 0.0
    throttle.succeeded(address)
    session.clear()  # a fresh session (and CSRF token) after signing in
    session.permanent = True
    session.update(admin=True, epoch=session_epoch(ch.db), token=_token_mark(ch))
    return 200, 0.0


def sign_out(ch: Certhook) -> None:
    end_sessions(ch.db, ch.now())  # the cookie, if kept, opens nothing any more
    session.clear()
