"""Fixtures: a database (SQLite and PostgreSQL), fake outside APIs, the app, a drained queue."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, select, text

from certhook import create_app
from certhook.context import Certhook, build
from certhook.db import Database
from certhook.jobs.worker import Worker
from certhook.models import JobKind, JobStatus, jobs, metadata
from certhook.platforms.signatures import sign
from certhook.settings import load_settings

from .fakes import dots as fake_dots_mod
from .fakes import shopify as fake_shopify_mod
from .fakes.dots import FakeDots
from .fakes.shopify import FakeShopify
from .fakes.woocommerce import CONSUMER_KEY, CONSUMER_SECRET, FakeWooCommerce

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRET = "acme-webhook-secret"
ADMIN_TOKEN = "test-admin-token-0123456789"
DOMAIN = "acme.myshopify.com"
WOO_SECRET = "woo-webhook-secret"
PUBLIC_URL = "https://certhook.example"
WOO_DOMAIN = "shop.example.com"
WOO_RULES = """\
rules:
  - name: A tree for every 5 spent
    allocation_id: 32
    per_amount: 5
"""

RULES = """\
rules:
  - name: A sea turtle with every hoodie
    match: {sku: "HOODIE-*"}
    allocation_id: 14
    per_item: 1
  - name: A tree for every 25 spent
    allocation_id: 32
    per_amount: 25
"""


# --- PostgreSQL: a throwaway cluster, run as an unprivileged user -------------------------

def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if os.environ.get("CERTHOOK_TEST_POSTGRES_URL"):
        yield os.environ["CERTHOOK_TEST_POSTGRES_URL"]
        return
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CERTHOOK_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (CERTHOOK_REQUIRE_POSTGRES) but initdb is missing")
        pytest.skip("PostgreSQL is not installed here (install postgresql to run these)")
    root = Path(tempfile.mkdtemp(prefix="certhook-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")
    try:
        admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE certhook_test"))
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/certhook_test"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_migrated(postgres_url: str) -> str:
    db = Database(postgres_url)
    db.upgrade()
    db.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'certhook.db'}"
    url = request.getfixturevalue("_pg_migrated")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


# --- Fakes and settings --------------------------------------------------------------------

@pytest.fixture
def fake_dots() -> Iterator[FakeDots]:
    fake = FakeDots()
    yield fake
    fake.close()


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    fake = FakeShopify()
    yield fake
    fake.close()


@pytest.fixture
def fake_woo() -> Iterator[FakeWooCommerce]:
    fake = FakeWooCommerce()
    yield fake
    fake.close()


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


class Clock:
    """The time the jobs see; tests move it on instead of sleeping through backoff."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config_path(tmp_path: Path, db_url: str, fake_dots: FakeDots, fake_shopify: FakeShopify,
                fake_woo: FakeWooCommerce) -> Path:
    return write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, woo_url=fake_woo.api_url)


@pytest.fixture
def ch(config_path: Path) -> Iterator[Certhook]:
    certhook = build(load_settings(config_path))
    certhook.clock = Clock()
    certhook.db.upgrade()
    yield certhook
    certhook.close()


@pytest.fixture
def app(ch: Certhook):  # type: ignore[no-untyped-def]
    return create_app(ch=ch)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@contextmanager
def make_ch(tmp_path: Path, db_url: str, fake_dots: FakeDots, fake_shopify: FakeShopify,
            **config: Any) -> Iterator[tuple[Certhook, Any]]:  # pass woo_url= for a WooCommerce shop
    """A certhook with its own settings, and a test client for it."""
    path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, **config)
    certhook = build(load_settings(path))
    certhook.clock = Clock()
    certhook.db.upgrade()
    try:
        yield certhook, create_app(ch=certhook).test_client()
    finally:
        certhook.close()


# --- Helpers -------------------------------------------------------------------------------

def signed_woo(payload: Any, secret: str = WOO_SECRET, topic: str = "order.updated",
               source: str = f"https://{WOO_DOMAIN}/") -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"X-WC-Webhook-Signature": sign(body, secret), "X-WC-Webhook-Topic": topic,
                  "X-WC-Webhook-Source": source, "X-WC-Webhook-Resource": topic.split(".")[0],
                  "X-WC-Webhook-Event": topic.split(".")[-1], "X-WC-Webhook-ID": "7",
                  "X-WC-Webhook-Delivery-ID": "f3b1c0d1e2a3b4c5", "Content-Type": "application/json"}


def signed_shopify(payload: Any, secret: str = SECRET, topic: str = "orders/paid",
                   domain: str = DOMAIN) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"X-Shopify-Hmac-Sha256": sign(body, secret), "X-Shopify-Topic": topic,
                  "X-Shopify-Shop-Domain": domain, "Content-Type": "application/json",
                  "X-Shopify-Event-Id": "evt-1"}


def deliver(client, payload: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    body, headers = signed_shopify(payload, **kwargs)
    return client.post("/webhooks/shopify", data=body, headers=headers)


def drain(ch: Certhook, max_jobs: int = 500) -> int:
    """Run every job, moving the clock past each backoff, until none is left to do."""
    worker = Worker(ch, concurrency=1)
    ran = 0
    while ran < max_jobs:
        if worker.run_one():
            ran += 1
            continue
        with ch.db.read() as conn:  # recurring reconcile jobs never drain: wait for the rest
            nxt = conn.execute(select(jobs.c.run_at).where(jobs.c.status == JobStatus.QUEUED,
                                                           jobs.c.kind != JobKind.RECONCILE)
                               .order_by(jobs.c.run_at).limit(1)).scalar()
        if nxt is None:
            return ran
        ch.clock.now = max(ch.clock.now, nxt)  # type: ignore[attr-defined]
    raise AssertionError(f"the queue did not drain in {max_jobs} jobs")


def fixture(name: str) -> dict[str, Any]:
    """A payload from tests/fixtures/<platform>/<topic>__<variant>.json."""
    return json.loads((FIXTURES / name).read_text())


def order_payload(order_id: int = 5551234, **overrides: Any) -> dict[str, Any]:
    """A paid order: two hoodies (2 turtles) and 60.00 spent in all (2 trees)."""
    payload = json.loads((FIXTURES / "shopify" / "orders_paid__hoodies.json").read_text())
    payload.update(id=order_id, admin_graphql_api_id=f"gid://shopify/Order/{order_id}", **overrides)
    return payload
