"""A merchant's events endpoint (a Zapier or n8n hook): it keeps every POST as it came, and
answers 200 unless a fault is planned for it.

Faults, one per coming POST: "500", "503", "400", "410", "429" (Retry-After: 120) are answered
at once; "hang" never answers (until `release()`); "trickle", "endless" and "huge" are the
slow answers every fake has; "big" is a 200 of 50 MiB, sent as fast as it is read.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from standardwebhooks import Webhook

from .base import SLOW_ANSWERS, FakeServer, Handler

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64: as Svix's docs show one
BIG = 50 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None  # the status it answered; None: it never did
    at: float  # on the test's clock
    path: str = ""


class Receiver(FakeServer):
    FAULT_ANSWERS: ClassVar[dict[str, tuple[int, Any, dict[str, str]]]] = {
        "500": (500, {"error": "internal"}, {}), "503": (503, {"error": "maintenance"}, {}),
        "400": (400, {"error": "no such field"}, {}), "410": (410, {"error": "gone"}, {}),
        "429": (429, {"error": "slow down"}, {"Retry-After": "120"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[Received] = []
        self.released = threading.Event()

    def handle(self, request: Handler, method: str) -> None:
        body = request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        status = int(fault) if fault in self.FAULT_ANSWERS else 200 if fault in (None, "big") else None
        with self.lock:  # kept before it is answered: a test sees a POST that hangs
            self.received.append(Received(headers, body, status, self.clock(), request.path))
        if fault == "hang":
            self.released.wait(60)
            request.drop()
        elif fault == "big":
            self._big(request)
        elif fault in self.FAULT_ANSWERS:
            request.send_json(*self.FAULT_ANSWERS[fault])
        elif fault in SLOW_ANSWERS:
            request.slow_answer(fault)
        else:
            request.send_json(200, {"ok": True, "note": "thanks " * 60})

    @staticmethod
    def _big(request: Handler) -> None:
        request.close_connection = True
        try:
            request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                + f"Content-Length: {BIG}\r\n\r\n".encode())
            for _ in range(BIG // 65536):
                request.wfile.write(b" " * 65536)
        except OSError:  # certhook stopped reading, as it should
            pass

    def release(self) -> None:
        """Let every hanging POST go (hung up without an answer)."""
        self.released.set()

    def close(self) -> None:
        self.release()
        super().close()

    def events(self, secret: str = SECRET) -> list[dict[str, Any]]:
        """Every event received, each verified with the standardwebhooks package."""
        return [Webhook(secret).verify(r.body, r.headers) for r in self.received]

    def delivered(self) -> list[Received]:
        """The POSTs it answered 2xx."""
        return [r for r in self.received if r.answered is not None and 200 <= r.answered < 300]
