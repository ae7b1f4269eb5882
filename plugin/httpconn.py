"""Kept-alive connections to one service, as http.client makes them: through the environment's
proxy for it (http_proxy, https_proxy, no_proxy, as requests reads them), verified against its CA
bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) or certifi's, with a connect and a read timeout.

urllib3 did this before: its machinery around each call cost 2.5 times the CPU of the call
itself, on a job thread's way to and from every certificate.
"""
from __future__ import annotations

import base64
import functools
import http.client
import os
import select
import ssl
import threading
import urllib.parse
import urllib.request
import weakref
from typing import Any

import certifi

POOL_SIZE = 32  # idle connections kept per service and shop: more than any process's workers


def tls_context() -> ssl.SSLContext:
    """The TLS settings for the environment's CA bundle, one for every connection of the process
    that trusts it."""
    return _context(os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                    or certifi.where())


@functools.lru_cache(maxsize=8)
def _context(bundle: str) -> ssl.SSLContext:
    # Loading certifi's bundle takes 40 ms of CPU and 0.7 MB: once, not once per shop's client
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def basic_auth(user: str, password: str) -> str:
    """An Authorization (or Proxy-Authorization) header's Basic value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _proxy_for(parts: urllib.parse.SplitResult) -> urllib.parse.SplitResult | None:
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    proxy = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if proxy.scheme != "http" or not proxy.hostname:
        raise ValueError("the proxy must be named as http://host:port")
    return proxy


class Connections:
    """The idle connections to one origin, the last used first; a call takes one (or makes
    one) and gives it back once its answer is read whole."""

    def __init__(self, base_url: str, timeout: tuple[float, float]):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// and name a host")
        self.https, self.host = parts.scheme == "https", parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self.connect_timeout, self.read_timeout = timeout
        self.proxy, self.proxy_headers = _proxy_for(parts), {}
        if self.proxy is not None and self.proxy.username is not None:
            self.proxy_headers = {"Proxy-Authorization": basic_auth(
                urllib.parse.unquote(self.proxy.username), urllib.parse.unquote(self.proxy.password or ""))}
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._idle, self._lock)  # a client dropped unclosed

    def call(self, method: str, target: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a kept-alive connection (else a new one); the answer, read whole.
        OSError (a timeout is TimeoutError) or http.client.HTTPException if it failed."""
        conn = self._take()
        try:
            if self.proxy is not None and not self.https:  # the proxy is asked for the whole URL
                target, headers = self.origin + target, {**headers, **self.proxy_headers}
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            content = answer.read()
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._give(conn)
        return answer, content

    def _take(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if conn.sock is not None and not dropped(conn.sock):
                return conn
            conn.close()  # the service hung up while it was idle

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        host, port = (self.proxy.hostname, self.proxy.port or 80) if self.proxy else (self.host, self.port)
        if self.https:  # the bundle is read at the first connection: a bad one fails a call
            conn = http.client.HTTPSConnection(host, port, timeout=self.connect_timeout,
                                               context=tls_context())
            if self.proxy is not None:
                conn.set_tunnel(self.host, self.port, headers=self.proxy_headers)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        conn.sock.settimeout(self.read_timeout)
        return conn

    def _give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(conn)
                return
        conn.close()

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        _close_all(self._idle, self._lock)


def _close_all(idle: list[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        closing = idle[:]
        idle.clear()
    for conn in closing:
        conn.close()


def dropped(sock: Any) -> bool:
    """An idle connection with something to read has been closed (or broken) by the service."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
