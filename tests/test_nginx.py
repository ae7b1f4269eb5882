"""deploy/nginx.conf, run by Debian's nginx on loopback with a throwaway certificate, in front of
`certhook serve` with trusted_proxies: 1: webhooks pass, 1 MiB is the limit, the login throttle
counts the client's address (not nginx's, nor one the client made up), the headers arrive."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from .helpers import Serve, csrf, free_port, order_payload, signed_shopify, write_config

SITE = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
if not os.path.exists(NGINX):
    if os.environ.get("CERTHOOK_REQUIRE_NGINX"):
        raise RuntimeError("nginx is required (CERTHOOK_REQUIRE_NGINX) but not installed")
    pytest.skip("nginx is not installed here (apt-get install nginx)", allow_module_level=True)


class From(HTTPAdapter):
    """Connections from this loopback address: another client, as nginx sees it."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def site(port: int, https: int, http: int, tmp: Path) -> str:
    """The deploy file with this test's ports and certificate; each line replaced must exist."""
    text = SITE.read_text()
    swaps = {"server 127.0.0.1:8000;": f"server 127.0.0.1:{port};",
             "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
             "listen 80;": f"listen 127.0.0.1:{http};",
             "/etc/letsencrypt/live/certhook.example.com/fullchain.pem": str(tmp / "cert.pem"),
             "/etc/letsencrypt/live/certhook.example.com/privkey.pem": str(tmp / "key.pem")}
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    return re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)  # no IPv6 in every sandbox


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, log.read_text()[-2000:]
        time.sleep(0.05)
    raise AssertionError("nginx did not start")


@pytest.fixture
def nginx(tmp_path: Path, fake_dots, fake_shopify) -> Iterator[str]:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", fake_dots.api_url,
                          fake_shopify.api_url, trusted_proxies=1)
    server = Serve(config)
    server.start()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    https, http = free_port(), free_port()
    (tmp_path / "site.conf").write_text(site(server.port, https, http, tmp_path))
    temp = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in
                    ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "") +
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'nginx.log'};\nevents {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path / 'site.conf'}; }}\n")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    try:
        wait_listening(https, proc, tmp_path / "nginx.log")
        yield f"https://127.0.0.1:{https}"
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def session(address: str, cert: Path) -> requests.Session:
    s = requests.Session()
    s.mount("https://", From(address))
    s.verify, s.trust_env = str(cert), False  # this certificate, whatever the environment says
    return s


def wrong_login(s: requests.Session, url: str) -> int:
    form = {"token": "not-the-token-at-all", "csrf_token": csrf(s, f"{url}/login")}
    return s.post(f"{url}/login", data=form, headers={"X-Forwarded-For": "203.0.113.9"},
                  timeout=5).status_code


def test_behind_nginx(nginx: str, tmp_path: Path):
    cert = tmp_path / "cert.pem"
    one, two = session("127.0.0.2", cert), session("127.0.0.3", cert)
    body, headers = signed_shopify(order_payload(order_id=5151))
    assert one.post(f"{nginx}/webhooks/shopify", data=body, headers=headers, timeout=5).json() == {
        "status": "accepted"}
    big, headers = signed_shopify(order_payload(order_id=5152, note="x" * (1024 * 1024)))
    assert one.post(f"{nginx}/webhooks/shopify", data=big, headers=headers, timeout=5).status_code == 413
    # Three wrong tokens are free, the fourth waits: per client, whatever X-Forwarded-For it sent.
    assert [wrong_login(one, nginx) for _ in range(4)] == [401, 401, 401, 429]
    assert wrong_login(two, nginx) == 401  # another client, not nginx's one address
    page = two.get(f"{nginx}/login", timeout=5)
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                   "Referrer-Policy", "Strict-Transport-Security", "X-Request-Id"):
        assert header in page.headers, header
