"""A small local HTTP server for faking an outside API in tests, with its fault controls.

Every fake plans faults the same way: `fail_next("500", "drop", None, ...)` queues one fault per
coming call that the fake counts (its writes). A fault in FAULT_ANSWERS is answered before any
work is done; "drop" hangs up after the work is done (the answer is lost); None is a call that
goes through. A fault in SLOW_ANSWERS is an answer that never ends well: "trickle" (a byte at a
time, the status line too), "endless" (chunks for ever) or "huge" (more than any cap). Every fake
reads the time from the same clock as the certhook under test.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import quote

ANSWERED = "answered"
SLOW_ANSWERS = ("trickle", "endless", "huge")
CREDENTIAL_HEADERS = ("Authorization", "auth-token", "X-Shopify-Access-Token")
TRICKLE_SECONDS = 0.1  # between two bytes of a trickle, two chunks of an endless answer


class Handler(BaseHTTPRequestHandler):
    fake: Any = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and delayed ACKs
        # hold the body back for milliseconds on every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def slow_answer(self, fault: str) -> None:
        """One of SLOW_ANSWERS, sent until the client hangs up."""
        self.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        try:
            if fault == "huge":
                self.wfile.write(head + b"Content-Length: 104857600\r\n\r\n")
                for _ in range(100 * 16):
                    self.wfile.write(b" " * 65536)
            elif fault == "trickle":
                for byte in head + b"Content-Length: 100000\r\n\r\n" + b" " * 100000:
                    self.wfile.write(bytes([byte]))
                    time.sleep(TRICKLE_SECONDS)
            else:
                self.wfile.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
                while True:
                    self.wfile.write(b"1\r\n \r\n")
                    time.sleep(TRICKLE_SECONDS)
        except OSError:  # the client hung up: what these answers wait for
            pass

    def echo(self) -> None:
        """401 quoting the credential sent in every form it takes on the wire: the header as
        sent (Basic, Bearer, a token header) and as a query string would carry it."""
        sent = []
        for name in CREDENTIAL_HEADERS:
            value = self.headers.get(name)
            if value:
                scheme, _, token = value.rpartition(" ")
                if scheme == "Basic":
                    key, _, secret = base64.b64decode(token).decode().partition(":")
                    sent.append(f"?consumer_key={quote(key)}&consumer_secret={quote(secret)}")
                sent += [f"{name}: {value}", f"?token={quote(token)}"]
        self.close_connection = True  # its body may be unread
        self.send_json(401, {"code": "unauthorized", "message": f"Unauthorized: you sent {' '.join(sent)}"})

    def drop(self) -> None:
        """Hang up without an answer, as a network failure after the work was done."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        self.arrived = time.monotonic()  # a fake's latency (FakeDots.slow_seconds) counts from here
        self.fake.handle(self, method)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


class FakeServer:
    # fault name -> (status, body, headers) answered before any work
    FAULT_ANSWERS: ClassVar[dict[str, tuple[int, Any, dict[str, str]]]] = {}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.faults: list[str | None] = []
        handler = type("BoundHandler", (Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, *faults: str | None) -> None:
        with self.lock:
            self.faults.extend(faults)

    def take_fault(self, request: Handler) -> str | None:
        """The fault planned for this call: one answered up front is sent now (ANSWERED)."""
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault in self.FAULT_ANSWERS:
            status, body, headers = self.FAULT_ANSWERS[fault]
            request.send_json(status, body, headers)
            return ANSWERED
        if fault in SLOW_ANSWERS:
            request.slow_answer(fault)
            return ANSWERED
        if fault == "echo":
            request.echo()
            return ANSWERED
        return fault

    def handle(self, request: Handler, method: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
