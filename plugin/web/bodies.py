"""What a request may send: a small body to anything but the webhooks, and a body that is not
sent whole (a broken chunked encoding, a client gone halfway) answered 400 in one log line."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

log = logging.getLogger(__name__)
FORM_LIMIT = 64 * 1024  # a sign-in, a retry button: far less than this
WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")


class BrokenBody(BadRequest):
    description = "the body was not sent whole (a broken chunked encoding, or the client left)"


class _Input:
    """wsgi.input whose every failure (the server's parser refusing a chunk, a reset socket) is
    a BrokenBody, logged in one line without the bytes sent; past its cap, a 413."""

    def __init__(self, stream: Any, where: str):
        self._stream, self._where = stream, where
        self._left: float = float("inf")

    def cap(self, limit: int) -> None:
        self._left = limit

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            data = method(*args)
        except Exception as exc:
            log.info("%s: the body was not sent whole (%s)", self._where, type(exc).__name__)
            raise BrokenBody() from None
        self._left -= sum(map(len, data)) if isinstance(data, list) else len(data)
        if self._left < 0:
            raise RequestEntityTooLarge(f"a body over {FORM_LIMIT // 1024} KiB")
        return data

    def read(self, *args: Any) -> bytes:
        return self._call(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._call(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._call(self._stream.readlines, *args)

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")


def limit(app: Flask) -> None:
    wsgi_app = app.wsgi_app

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        where = f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')!r:.80}"
        environ["wsgi.input"] = _Input(environ["wsgi.input"], where)
        return wsgi_app(environ, start_response)

    app.wsgi_app = guarded  # type: ignore[method-assign]

    @app.before_request
    def small_bodies() -> None:
        """Anything but a webhook: 413 over FORM_LIMIT, before a byte is read (a length said),
        or as soon as the limit is passed (chunked)."""
        if request.method not in WITH_BODY or request.blueprint == "webhooks":
            return
        if (request.content_length or 0) > FORM_LIMIT:
            raise RequestEntityTooLarge(f"a body over {FORM_LIMIT // 1024} KiB")
        request.environ["wsgi.input"].cap(FORM_LIMIT)
