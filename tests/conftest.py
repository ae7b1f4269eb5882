"""Fixtures: a database (SQLite and PostgreSQL), one clock, the fake outside APIs, certhook."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
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

from .fakes.certfusion import FakeCertFusion
from .fakes.dots import FakeDots
from .fakes.shopify import FakeShopify
from .fakes.woocommerce import FakeWooCommerce
from .helpers import Clock, start, write_config

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


# --- The clock, the fakes, certhook --------------------------------------------------------

@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_dots(clock: Clock) -> Iterator[FakeDots]:
    fake = FakeDots(clock)
    yield fake
    fake.close()


@pytest.fixture
def fake_shopify(clock: Clock) -> Iterator[FakeShopify]:
    fake = FakeShopify(clock)
    yield fake
    fake.close()


@pytest.fixture
def fake_woo(clock: Clock) -> Iterator[FakeWooCommerce]:
    fake = FakeWooCommerce(clock)
    yield fake
    fake.close()


@pytest.fixture
def fake_cf(clock: Clock) -> Iterator[FakeCertFusion]:
    fake = FakeCertFusion(clock)
    yield fake
    fake.close()


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
