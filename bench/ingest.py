"""Signed Shopify webhooks per second, and p50/p99 answer time, against `certhook serve`.

Beside it, a bare Flask app that only answers 200, under the same gunicorn settings, run in the
same way from this process: the ratio says what verifying, parsing and recording cost.

    python bench/ingest.py [--requests 3000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"
ORDER = json.loads((ROOT / "tests" / "fixtures" / "shopify" / "orders_paid__hoodies.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_app():  # type: ignore[no-untyped-def]
    from flask import Flask

    app = Flask("bare")

    @app.post("/webhooks/shopify")
    def ok():  # type: ignore[no-untyped-def]
        return {"status": "accepted"}

    @app.get("/healthz")
    def health():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    return app


def serve_bare(port: int, web_workers: int) -> None:
    from certhook.server import Server

    Server(bare_app, {"bind": f"127.0.0.1:{port}", "workers": web_workers, "loglevel": "warning"},
           with_jobs=False).run()


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    raise SystemExit("the server did not start in 30 s")


def bodies(n: int, start: int) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(n):
        body = json.dumps({**ORDER, "id": start + i, "name": f"#{start + i}"}).encode()
        sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        out.append((body, {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sig,
                           "X-Shopify-Topic": "orders/paid",
                           "X-Shopify-Shop-Domain": "acme.myshopify.com"}))
    return out


def load(port: int, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
         ) -> tuple[float, list[float]]:
    """Send every request over `concurrency` keep-alive connections; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    position = iter(range(len(requests)))
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            body, headers = requests[i]
            t0 = time.perf_counter()
            conn.request("POST", "/webhooks/shopify", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                failures.append(str(response.status))
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {failures[:5]}")
    return time.perf_counter() - start, latencies


def run(name: str, port: int, proc: subprocess.Popen[bytes], n: int, concurrency: int,
        start: int) -> dict[str, float]:
    try:
        wait_healthy(port, proc)
        load(port, bodies(200, start), concurrency)  # warm up
        seconds, lat = load(port, bodies(n, start + 200), concurrency)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    q = statistics.quantiles(lat, n=100)
    result = {"rps": n / seconds, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}
    print(f"{name:<16} {result['rps']:8.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
          f"p99 {result['p99_ms']:6.2f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=1,
                        help="gunicorn processes for both (certhook serve's default on SQLite is 1)")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        serve_bare(args.bare, args.web_workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yaml").write_text((ROOT / "examples" / "rules" / "acme.yaml").read_text())
        Path(tmp, "certhook.yaml").write_text(json.dumps({
            "database_url": "sqlite:///certhook.db", "secret_key": "bench-secret-key-0123456789",
            "admin_token": "bench-admin-token-0123456789",
            "shops": [{"id": "acme", "platform": "shopify", "domain": "acme.myshopify.com",
                       "webhook_secret": SECRET, "rules": "rules.yaml", "mode": "shadow"}]}))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        print(f"{args.requests} signed orders/paid webhooks, {args.concurrency} connections, "
              f"{args.web_workers} gunicorn workers (gthread), {os.cpu_count()} cores")
        port = free_port()
        bare = run("bare Flask", port, subprocess.Popen(
            [sys.executable, __file__, "--bare", str(port), "--web-workers", str(args.web_workers)],
            **quiet), args.requests, args.concurrency, 1_000_000)
        port = free_port()
        ours = run("certhook serve", port, subprocess.Popen(
            [sys.executable, "-m", "certhook", "serve", "--config", str(Path(tmp, "certhook.yaml")),
             "--bind", f"127.0.0.1:{port}", "--web-workers", str(args.web_workers)],
            cwd=ROOT, **quiet), args.requests, args.concurrency, 2_000_000)
    print(f"ratio certhook/bare: throughput {ours['rps'] / bare['rps']:.2f}x, "
          f"p50 {ours['p50_ms'] / bare['p50_ms']:.2f}x, p99 {ours['p99_ms'] / bare['p99_ms']:.2f}x")


if __name__ == "__main__":
    main()
