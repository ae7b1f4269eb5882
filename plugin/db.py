"""The engine: SQLite (WAL, a busy timeout, writes under BEGIN IMMEDIATE) or PostgreSQL."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite

from .writers import AFTER_COMMIT, GroupCommit, WriterLock

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6365727468  # "certh": the PostgreSQL advisory lock migrations take
T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a writer waits for another's lock before failing


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=10, max_overflow=20,
                           connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # the driver's own BEGIN is off: "begin" says ours
        for pragma in ("journal_mode=WAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=NORMAL",
                       "foreign_keys=ON"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write takes SQLite's write lock up front: a read that later wanted to write could
        # not wait for it (SQLITE_BUSY at once, whatever the busy timeout).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get(AFTER_COMMIT) is not None else "BEGIN")

    return engine


def _postgresql_engine(url: str) -> Engine:
    # pool_pre_ping: a connection a database restart broke is replaced before it is used
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def put(conn: Connection, table: Table, key: dict[str, Any], **values: Any) -> None:
    """Update the row with this key (a shop's state, say), or insert it with these values."""
    where = [table.c[name] == value for name, value in key.items()]
    if not conn.execute(table.update().where(*where).values(**values)).rowcount:
        conn.execute(table.insert().values(**key, **values))


class Database:
    """Two doors to one database: write() takes the write lock up front, read() doesn't."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _sqlite_engine(url) if self.is_sqlite else _postgresql_engine(url)
        self._statements: dict[tuple[str, tuple[str, ...]], Insert] = {}
        self._writer = WriterLock(url) if self.is_sqlite else None
        self._group = GroupCommit(self)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; what after_commit() asked for runs once it has committed."""
        callbacks: list[Callable[[], None]] = []
        with self._writer or nullcontext(), self.engine.connect() as conn:
            conn.info[AFTER_COMMIT] = callbacks
            try:
                with conn.begin():
                    yield conn
            finally:
                if not conn.invalidated:  # a lost connection's info is gone with it
                    conn.info.pop(AFTER_COMMIT, None)
        for callback in callbacks:
            callback()

    def write_together(self, work: Callable[[Connection], T]) -> T:
        """work(conn) in a write transaction shared with this process's other threads' at that
        moment; its result once committed (GroupCommit)."""
        return self._group.run(work)

    @staticmethod
    def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
        """Run callback once conn's write() transaction has committed (never, if it rolls back)."""
        conn.info[AFTER_COMMIT].append(callback)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent view of the database."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def insert_new(self, table: Table, *unique: str) -> Insert:
        """INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING its key, built once per table."""
        key = (table.name, unique)
        if key not in self._statements:
            insert = sqlite.insert if self.is_sqlite else postgresql.insert
            self._statements[key] = (insert(table).on_conflict_do_nothing(index_elements=list(unique))
                                     .returning(*table.primary_key.columns))
        return self._statements[key]

    def upgrade(self) -> None:
        """Create or upgrade the schema with the Alembic migrations."""
        # Imported here: Alembic (with Mako) is 10 MB that a web process never needs.
        from alembic import command  # noqa: PLC0415
        from alembic.config import Config  # noqa: PLC0415

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if not self.is_sqlite:  # serve and workers starting at once: one migrates, the rest wait
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer is not None:
            self._writer.close()
