"""HTTPS: the service's certificate is verified (against the environment's CA bundle or
certifi's), straight or through the environment's proxy (a CONNECT tunnel)."""
from __future__ import annotations

import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from certhook.http import Client, Transient


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "12")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A self-signed HTTPS service on 127.0.0.1: its URL, and the folder with its certificate."""
    (tmp_path / "ca").mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "ca" / "cert.pem")],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "rehash", str(tmp_path / "ca")], check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "ca" / "cert.pem", tmp_path / "key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.daemon_threads = True
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca"
    server.shutdown()
    server.server_close()


def test_https_is_verified_against_the_environments_ca_bundle_or_certifis(service, monkeypatch):
    """A self-signed service is refused with certifi's bundle, and trusted once
    REQUESTS_CA_BUNDLE names its certificate, as a file or as a folder (hashed, as OpenSSL reads)."""
    url, ca = service
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Transient, match="connection failed"):
        Client("Svc", url, (2, 5)).request("GET", "/")
    for bundle in (ca / "cert.pem", ca):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        assert Client("Svc", url, (2, 5)).request("GET", "/").status_code == 200
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca / "missing.pem"))  # a call fails, not the start
    with pytest.raises(Transient, match="connection failed"):
        Client("Svc", url, (2, 5)).request("GET", "/")


class Tunnel(socketserver.BaseRequestHandler):
    """An HTTP proxy's CONNECT: the bytes go through untouched, both ways."""

    def handle(self) -> None:
        head = self.request.recv(4096).decode()  # the client waits for our answer: all of it
        self.server.heads.append(head)  # type: ignore[attr-defined]
        host, port = head.split()[1].rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
            back.start()
            _pipe(self.request, upstream)
            back.join(5)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_https_goes_through_the_environments_proxy_in_a_verified_tunnel(service, monkeypatch):
    """https_proxy with credentials: a CONNECT to the service, with Basic proxy auth; the
    service's certificate is still checked (the proxy cannot read or forge the answer)."""
    url, ca = service
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
    proxy.daemon_threads, proxy.heads = True, []  # type: ignore[attr-defined]
    threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True).start()
    try:
        monkeypatch.setenv("https_proxy", f"http://u:p%40ss@127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca / "cert.pem"))
        http = Client("Svc", url, (2, 5))
        assert [http.request("GET", "/").status_code for _ in range(2)] == [200, 200]
        head = proxy.heads[0]  # type: ignore[attr-defined]
        assert head.startswith(f"CONNECT {url.removeprefix('https://')} HTTP/1.")
        assert "Proxy-Authorization: Basic dTpwQHNz" in head  # u:p@ss
        assert len(proxy.heads) == 1  # type: ignore[attr-defined]  (the tunnel is kept alive)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        with pytest.raises(Transient, match="connection failed"):
            Client("Svc", url, (2, 5)).request("GET", "/")
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_https_goes_through_an_https_proxy_too(service, monkeypatch):
    """https_proxy=https://...: certhook speaks TLS to the proxy, and TLS to the service inside
    the tunnel; both certificates are checked against the environment's CA bundle."""
    url, ca = service
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(ca / "cert.pem", ca.parent / "key.pem")
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
    proxy.daemon_threads, proxy.heads = True, []  # type: ignore[attr-defined]
    proxy.socket = tls.wrap_socket(proxy.socket, server_side=True)
    threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True).start()
    try:
        monkeypatch.setenv("https_proxy", f"https://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca / "cert.pem"))
        assert Client("Svc", url, (2, 5)).request("GET", "/").status_code == 200
        assert proxy.heads[0].startswith(f"CONNECT {url.removeprefix('https://')} HTTP/1.")  # type: ignore[attr-defined]
    finally:
        proxy.shutdown()
        proxy.server_close()
