"""The engine: SQLite (WAL, busy timeout, writes under BEGIN IMMEDIATE) or PostgreSQL."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
AFTER_COMMIT = "certhook_after_commit"


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Two doors to one database: write() takes the write lock up front, read() doesn't."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self._statements: dict[tuple[str, tuple[str, ...]], Insert] = {}
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, "BEGIN")
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.read_engine = self.engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; what after_commit() asked for runs once it has committed."""
        callbacks: list[Callable[[], None]] = []
        # SQLite has one writer. Threads of one process queue here, in turn, rather than in
        # SQLite's busy handler, which sleeps in steps and makes the slowest answers slower.
        with self._write_lock if self.is_sqlite else nullcontext(), self.engine.begin() as conn:
            conn.info[AFTER_COMMIT] = callbacks
            try:
                yield conn
            finally:
                del conn.info[AFTER_COMMIT]
        for callback in callbacks:
            callback()

    @staticmethod
    def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
        """Run callback once conn's write() transaction has committed (never, if it rolls back)."""
        conn.info[AFTER_COMMIT].append(callback)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.read_engine.begin() as conn:
            yield conn

    def insert_new(self, table: Table, *unique: str) -> Insert:
        """INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING its key, built once per table.

        Executed with a dict of values, so a hot path compiles nothing: SQLAlchemy's cache
        serves the same statement every time.
        """
        key = (table.name, unique)
        if key not in self._statements:
            insert = sqlite.insert if self.is_sqlite else postgresql.insert
            self._statements[key] = (insert(table).on_conflict_do_nothing(index_elements=list(unique))
                                     .returning(*table.primary_key.columns))
        return self._statements[key]

    def upgrade(self) -> None:
        """Create or upgrade the schema with the Alembic migrations."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
