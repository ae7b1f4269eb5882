"""Shared test helpers: settings, signed deliveries, draining the queue, payloads, a real server."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import select

from certhook import create_app, pipeline
from certhook.context import Certhook, build
from certhook.models import jobs, outbox
from certhook.platforms.signatures import sign
from certhook.settings import load_settings
from certhook.statuses import JobKind, JobStatus

from .fakes import dots as fake_dots_mod
from .fakes import shopify as fake_shopify_mod
from .fakes.receiver import SECRET as RECEIVER_SECRET
from .fakes.woocommerce import CONSUMER_KEY, CONSUMER_SECRET
from .pgcluster import free_port  # noqa: F401  (the tests' ports, one helper)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "certhook.yaml"
SECRET = "acme-webhook-secret"
ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DOMAIN = "acme.myshopify.com"
WOO_SECRET = "woo-webhook-secret"
PUBLIC_URL = "https://certhook.example"
WOO_DOMAIN = "shop.example.com"
WOO_RULES = "rules:\n  - name: A tree for every 5 spent\n    allocation_id: 32\n    per_amount: 5\n"
TURTLE_RULE = """\
rules:
  - name: A sea turtle with every hoodie
    match: {sku: "HOODIE-*"}
    allocation_id: 14
    per_item: 1
"""
RULES = TURTLE_RULE + """\
  - name: A tree for every 25 spent
    allocation_id: 32
    per_amount: 25
"""
OFFERING_RULES = TURTLE_RULE + """\
  - name: Gift a turtle
    match: {sku: GIFT-TURTLE}
    offering: {per_item: 5, limit_allocations: [14, 32], valid_days: 365, title: "A turtle for you"}
"""
CERTFUSION_RULE = """\
  - name: Course certificate
    match: {sku: "COURSE-*"}
    certfusion:
      list_id: 3
      custom_fields: {course_name: "{title}", purchase_date: "{order_date}"}
"""


class Clock:
    """The one clock of a test: certhook and the fakes read it; tests move it on instead of
    sleeping through backoff. With `now` None it follows the wall clock (which freezegun holds)."""

    def __init__(self) -> None:
        self.now: float | None = time.time()

    def __call__(self) -> float:
        return self.now if self.now is not None else time.time()


def write_config(tmp_path: Path, db_url: str, dots_url: str, shopify_url: str,
                 rules: str = RULES, woo_url: str | None = None, certfusion_url: str | None = None,
                 **overrides: Any) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "acme.yaml").write_text(rules)
    (tmp_path / "rules" / "woo.yaml").write_text(WOO_RULES)
    shop = {"id": "acme", "platform": "shopify", "domain": DOMAIN, "webhook_secret": SECRET,
            "access_token": fake_shopify_mod.ACCESS_TOKEN, "api_url": shopify_url,
            "rules": "rules/acme.yaml", "mode": "live", **overrides.pop("shop", {})}
    shops = [shop]
    if woo_url:
        shops.append({"id": "woo", "platform": "woocommerce", "domain": WOO_DOMAIN,
                      "webhook_secret": WOO_SECRET, "consumer_key": CONSUMER_KEY,
                      "consumer_secret": CONSUMER_SECRET, "api_url": woo_url,
                      "rules": "rules/woo.yaml", **overrides.pop("woo", {})})
    config = {
        "database_url": db_url, "secret_key": "test-secret-key-0123456789",
        "admin_token": ADMIN_TOKEN, "public_url": PUBLIC_URL, "workers": 4, "retry_base_seconds": 1,
        "retry_max_seconds": 60, "max_attempts": 5, "lease_seconds": 60,
        "dots": {"api_url": dots_url, "auth_token": fake_dots_mod.AUTH_TOKEN,
                 "app_token": fake_dots_mod.APP_TOKEN, "app_id": fake_dots_mod.APP_ID,
                 "offering_app_token": fake_dots_mod.OFFERING_APP_TOKEN,
                 "connect_timeout": 2, "read_timeout": 5},
        "shops": shops,
        **overrides,
    }
    if certfusion_url:
        config["certfusion"] = {"api_url": certfusion_url, "api_token": "cf-test-token",
                                "certificate_url": f"{certfusion_url}/certificates/{{uuid}}"}
    path = tmp_path / "certhook.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start(path: Path, clock: Clock | None = None) -> Certhook:
    """certhook built from the settings at `path`, its database migrated."""
    certhook = build(load_settings(path))
    certhook.clock = clock or Clock()
    certhook.db.upgrade()
    return certhook


@contextmanager
def make_ch(tmp_path: Path, db_url: str, fake_dots: Any, fake_shopify: Any,
            **config: Any) -> Iterator[tuple[Certhook, Any]]:  # pass woo_url= for a WooCommerce shop
    """A certhook with its own settings, on the fakes' clock, and a test client for it."""
    path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, **config)
    certhook = start(path, fake_dots.clock)
    try:
        yield certhook, create_app(ch=certhook).test_client()
    finally:
        certhook.close()


# --- Deliveries, signed the way the stores sign them ----------------------------------------

def signed_shopify(payload: Any, secret: str = SECRET, topic: str = "orders/paid",
                   domain: str = DOMAIN) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    # One event per topic and body: a redelivery of the same event repeats its id
    event = hashlib.sha256(topic.encode() + body).hexdigest()[:16]
    return body, {"X-Shopify-Hmac-Sha256": sign(body, secret), "X-Shopify-Topic": topic,
                  "X-Shopify-Shop-Domain": domain, "Content-Type": "application/json",
                  "X-Shopify-Event-Id": f"evt-{event}"}


def signed_woo(payload: Any, secret: str = WOO_SECRET, topic: str = "order.updated",
               source: str = f"https://{WOO_DOMAIN}/") -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"X-WC-Webhook-Signature": sign(body, secret), "X-WC-Webhook-Topic": topic,
                  "X-WC-Webhook-Source": source, "X-WC-Webhook-Resource": topic.split(".")[0],
                  "X-WC-Webhook-Event": topic.split(".")[-1], "X-WC-Webhook-ID": "7",
                  "X-WC-Webhook-Delivery-ID": "f3b1c0d1e2a3b4c5", "Content-Type": "application/json"}


def deliver(client: Any, payload: Any, **kwargs: Any) -> Any:
    body, headers = signed_shopify(payload, **kwargs)
    return client.post("/webhooks/shopify", data=body, headers=headers)


def deliver_woo(client: Any, payload: Any, **kwargs: Any) -> Any:
    body, headers = signed_woo(payload, **kwargs)
    return client.post("/webhooks/woocommerce", data=body, headers=headers)


# --- The queue ------------------------------------------------------------------------------

def run_due(ch: Certhook) -> int:
    """Run every job due now, without moving the clock."""
    worker, ran = pipeline.worker(ch, 1), 0
    while worker.run_one():
        ran += 1
    return ran


RECURRING = [JobKind.RECONCILE, JobKind.PRUNE, JobKind.BALANCE, JobKind.STOREFRONT, JobKind.EVENTS]


def drain(ch: Certhook, max_jobs: int = 500) -> int:
    """Run every job, moving the clock past each backoff, until none is left to do."""
    worker = pipeline.worker(ch, 1)
    ran = 0
    while ran < max_jobs:
        if worker.run_one():
            ran += 1
            continue
        with ch.db.read() as conn:  # recurring jobs never drain: wait for the rest
            nxt = conn.execute(select(jobs.c.run_at).where(
                jobs.c.status == JobStatus.QUEUED, jobs.c.kind.not_in(RECURRING)
            ).order_by(jobs.c.run_at).limit(1)).scalar()
        if nxt is None:
            return ran
        ch.clock.now = max(ch.clock.now, nxt)  # type: ignore[union-attr]
    raise AssertionError(f"the queue did not drain in {max_jobs} jobs")


# --- Events out ----------------------------------------------------------------------------

def endpoint(receiver: Any, path: str = "/hooks/certhook", **more: Any) -> dict[str, Any]:
    """An events endpoint's settings: the receiver at `path`, its secret."""
    return {"url": receiver.url + path, "secret": RECEIVER_SECRET, **more}


def send_events(ch: Certhook, rounds: int = 50, finish: bool = True) -> None:
    """Run what is due, moving the clock to each event's next try, until none waits."""
    for _ in range(rounds):
        run_due(ch)
        with ch.db.read() as conn:
            due = conn.execute(select(outbox.c.next_at).where(outbox.c.status == "pending")
                               .order_by(outbox.c.next_at).limit(1)).scalar()
        if due is None:
            return
        ch.clock.now = max(ch.clock.now, due)  # type: ignore[union-attr]
    assert not finish, "events still pending"


def outbox_rows(ch: Certhook) -> list[Any]:
    with ch.db.read() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


# --- Payloads -------------------------------------------------------------------------------

def fixture(name: str) -> dict[str, Any]:
    """A payload from tests/fixtures/<platform>/<topic>__<variant>.json."""
    return json.loads((FIXTURES / name).read_text())


def order_payload(order_id: int = 5551234, **overrides: Any) -> dict[str, Any]:
    """A paid Shopify order: two hoodies (2 turtles) and 60.00 spent in all (2 trees)."""
    payload = fixture("shopify/orders_paid__hoodies.json")
    payload.update(id=order_id, admin_graphql_api_id=f"gid://shopify/Order/{order_id}", **overrides)
    return payload


def woo_order(status: str = "completed", **overrides: Any) -> dict[str, Any]:
    """WooCommerce's documented order (727: 6.00 + 12.00 spent)."""
    return {**fixture("woocommerce/order_updated__documented.json"), "status": status, **overrides}


def order_of(client: Any, order_id: int | str = 5551234, shop: str = "acme") -> dict[str, Any]:
    """One order as the API returns it."""
    r = client.get(f"/api/orders/{shop}/{order_id}", headers=AUTH)
    assert r.status_code == 200, r.json
    return r.json


# --- The dashboard --------------------------------------------------------------------------

def csrf(client: Any, path: str = "/login") -> str:
    page = client.get(path).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def sign_in(client: Any) -> None:
    r = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf(client), "next": "/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"


# --- certhook serve as a real process -------------------------------------------------------

def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


class Serve:
    """`certhook serve` in a process group of its own, so a test can kill -9 all of it."""

    def __init__(self, config: Path, port: int | None = None, *args: str):
        self.config, self.args = config, args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.config.parent / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "certhook", "serve", "--config", str(self.config), "--bind",
             f"127.0.0.1:{self.port}", "--web-workers", "2", *self.args],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if healthy(self.url):
                return
            assert self.proc.poll() is None, (self.config.parent / "serve.log").read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError("certhook serve did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)  # the master and every worker, mid-flight
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# --- A database that refuses writes (a full disk, a read-only volume) -----------------------

def refuse_writes(ch: Certhook, table: str) -> None:
    """From now on every insert or update of `table` fails, as on a full disk."""
    with ch.db.write() as conn:
        if ch.db.is_sqlite:
            for op in ("INSERT", "UPDATE"):
                conn.exec_driver_sql(f"CREATE TRIGGER refuse_{op.lower()}_{table} BEFORE {op} ON "
                                     f"{table} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION certhook_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$")
            conn.exec_driver_sql(f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} "
                                 "FOR EACH ROW EXECUTE FUNCTION certhook_refuse()")


def allow_writes(ch: Certhook, table: str) -> None:
    with ch.db.write() as conn:
        if ch.db.is_sqlite:
            for op in ("insert", "update"):
                conn.exec_driver_sql(f"DROP TRIGGER refuse_{op}_{table}")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER refuse_{table} ON {table}")
