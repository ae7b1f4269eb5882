"""Fixtures: a database (SQLite and PostgreSQL), one clock, the fake outside APIs, certhook."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from certhook import create_app
from certhook.context import Certhook
from certhook.db import Database
from certhook.models import metadata
from certhook.tallies import impact_days  # noqa: F401  (its tables are part of the schema)

from .fakes.base import FakeServer
from .fakes.certfusion import FakeCertFusion
from .fakes.dots import FakeDots
from .fakes.receiver import Receiver
from .fakes.shopify import FakeShopify
from .fakes.woocommerce import FakeWooCommerce
from .helpers import Clock, start, write_config
from .openapi_check import CheckedClient
from .pgcluster import cluster, pg_bin

# Every test client checks each JSON API and webhook answer against the OpenAPI document.
Flask.test_client_class = CheckedClient

# --- PostgreSQL: a throwaway cluster, run as an unprivileged user -------------------------

@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if os.environ.get("CERTHOOK_TEST_POSTGRES_URL"):
        yield os.environ["CERTHOOK_TEST_POSTGRES_URL"]
        return
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CERTHOOK_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (CERTHOOK_REQUIRE_POSTGRES) but initdb is missing")
        pytest.skip("PostgreSQL is not installed here (install postgresql to run these)")
    with cluster(bindir) as url:
        yield url


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


# --- The clock, the fakes, certhook --------------------------------------------------------

@pytest.fixture
def clock() -> Clock:
    return Clock()


def _fake(name: str, fake_class: type[FakeServer]):  # type: ignore[no-untyped-def]
    """A fixture serving a fake outside API on the test's clock, closed after the test."""
    @pytest.fixture(name=name)
    def serve(clock: Clock) -> Iterator[FakeServer]:
        fake = fake_class(clock)
        yield fake
        fake.close()
    return serve


fake_dots = _fake("fake_dots", FakeDots)
fake_shopify = _fake("fake_shopify", FakeShopify)
fake_woo = _fake("fake_woo", FakeWooCommerce)
fake_cf = _fake("fake_cf", FakeCertFusion)
receiver = _fake("receiver", Receiver)  # an events endpoint


@pytest.fixture
def config_path(tmp_path: Path, db_url: str, fake_dots: FakeDots, fake_shopify: FakeShopify,
                fake_woo: FakeWooCommerce) -> Path:
    return write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, woo_url=fake_woo.api_url)


@pytest.fixture
def ch(config_path: Path, clock: Clock) -> Iterator[Certhook]:
    certhook = start(config_path, clock)
    yield certhook
    certhook.close()


@pytest.fixture
def app(ch: Certhook) -> Flask:
    return create_app(ch=ch)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
