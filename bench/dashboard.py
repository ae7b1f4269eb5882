"""Every dashboard page, JSON API read and public storefront answer over 100,000 (or --orders)
orders in SQLite, two certificates each: median and p95 answer times.

Beside them, GET /healthz in the same app and process, as the baseline of a request that does
(almost) nothing.

    python bench/dashboard.py [--orders 100000] [--runs 50]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from certhook import create_app
from certhook.context import build
from certhook.models import items, orders
from certhook.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]

TOKEN = "bench-admin-token-0123456789"
EARNS = "/impact/acme/earns.json?sku=HOODIE-1&price=49.00"


def fill(ch, n: int) -> None:  # type: ignore[no-untyped-def]
    start = time.time() - n * 60
    statuses = ["done"] * 90 + ["skipped"] * 6 + ["pending"] * 3 + ["failed"]
    batch = 5000
    for lo in range(0, n, batch):
        rows, certs = [], []
        for i in range(lo, min(lo + batch, n)):
            rows.append({"id": i + 1, "shop": "acme" if i % 3 else "second", "order_id": str(5_000_000 + i),
                         "order_name": f"#{1000 + i}", "email": f"customer{i}@example.com",
                         "customer_name": f"Customer {i}", "status": statuses[i % 100], "shadow": False,
                         "order_json": json.dumps({"email": f"customer{i}@example.com"}),
                         "writeback_status": "done", "note_posts": 0,
                         "created_at": start + i * 60, "updated_at": start + i * 60})
            for alloc, impact in ((14, "Save a Sea Turtle"), (32, "Plant a Tree")):
                certs.append({"order_pk": i + 1, "kind": "certificate", "issuer": "dots",
                              "allocation_id": alloc, "impact_qty": 2, "rules": "[]", "impact": impact,
                              "external_unique_id": f"certhook_acme_{5_000_000 + i}_{alloc}",
                              "status": "issued", "posts": 1, "certificate_id": f"{i}-6-{alloc}",
                              "certificate_url": f"https://impact.dots.eco/certificate/{i}-{alloc}",
                              "certificate_image_url": f"https://impact.dots.eco/img/{i}-{alloc}.jpg",
                              "issued_at": start + i * 60, "created_at": start + i * 60,
                              "updated_at": start + i * 60})
        with ch.db.write() as conn:
            conn.execute(orders.insert(), rows)
            conn.execute(items.insert(), certs)


def newest_of_acme(n: int) -> int:
    """The index of the newest order fill() gave to acme (every third goes to the other shop)."""
    return n - 1 if (n - 1) % 3 else n - 2


def timed(client, path: str, runs: int, revalidate: bool = False,  # type: ignore[no-untyped-def]
          before=lambda: None) -> tuple[float, float]:
    """Median and p95 of `runs` answers; `revalidate`: each with the ETag of the first (a 304);
    `before` runs before each (untimed)."""
    times = []
    headers = {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/api/") else {}
    if revalidate:
        headers["If-None-Match"] = client.get(path).headers["ETag"]
    for _ in range(runs):
        before()
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == (304 if revalidate else 200), (path, response.status_code)
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yaml").write_text((ROOT / "examples" / "rules" / "acme.yaml").read_text())
        Path(tmp, "certhook.yaml").write_text(json.dumps({
            "secret_key": "bench-secret-key-0123456789", "admin_token": TOKEN,
            "shops": [{"id": s, "platform": "shopify", "domain": f"{s}.myshopify.com",
                       "webhook_secret": "x" * 16, "rules": "rules.yaml", "mode": "shadow",
                       "storefront": {"enabled": True, "languages": ["en", "de"]}}
                      for s in ("acme", "second")]}))
        ch = build(load_settings(Path(tmp, "certhook.yaml")))
        ch.db.upgrade()
        t0 = time.perf_counter()
        fill(ch, args.orders)
        print(f"{args.orders} orders and {2 * args.orders} certificates in SQLite "
              f"(filled in {time.perf_counter() - t0:.1f} s); {args.runs} runs each")
        client = create_app(ch=ch).test_client()
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert client.post("/login", data={"token": TOKEN, "csrf_token": csrf}).status_code == 302
        base, _ = timed(client, "/healthz", args.runs)
        year_ago = (datetime.now(UTC).date() - timedelta(days=364)).isoformat()
        print(f"{'GET /healthz (baseline)':<44} median {base:7.2f} ms")
        for label, path in [
            ("orders list, page 1", "/"),
            ("orders list, page 1000", "/?page=1000"),
            ("filter: status=failed", "/?status=failed"),
            ("filter: shop=second", "/?shop=second"),
            ("search: an email", "/?q=customer77777@example.com"),
            ("search: an order name", "/?q=%2354321"),
            ("one order", f"/orders/acme/{5_000_000 + newest_of_acme(args.orders)}"),
            ("impact, last 30 days", "/impact"),
            ("impact, a year of one shop", f"/impact?shop=second&from={year_ago}"),
            ("API: orders, page 1", "/api/orders"),
            ("API: orders, status=failed, page 20", "/api/orders?status=failed&page=20"),
            ("API: one order", f"/api/orders/acme/{5_000_000 + newest_of_acme(args.orders)}"),
            ("storefront: impact feed", "/impact/acme.json"),
            ("storefront: impact feed, If-None-Match (304)", "/impact/acme.json#304"),
            ("storefront: badge (SVG), German", "/impact/acme.svg?lang=de"),
            ("storefront: badge, If-None-Match (304)", "/impact/acme.svg?lang=de#304"),
            ("storefront: what a product earns", EARNS),
            ("storefront: earns, If-None-Match (304)", EARNS + "#304"),
        ]:
            median, p95 = timed(client, path.removesuffix("#304"), args.runs, path.endswith("#304"))
            print(f"{label:<44} median {median:7.2f} ms   p95 {p95:7.2f} ms   "
                  f"{median / base:6.1f}x baseline")
        # Each read of a shop's feed is kept 5 s per process: a CDN's miss after that reads it again
        median, p95 = timed(client, "/impact/acme.json", args.runs,
                            before=lambda: client.application.extensions.pop("certhook_feed", None))
        print(f"{'storefront: impact feed, read afresh':<44} median {median:7.2f} ms   p95 {p95:7.2f} ms   "
              f"{median / base:6.1f}x baseline")
        ch.db.dispose()


if __name__ == "__main__":
    main()
