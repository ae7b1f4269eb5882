"""The engine: SQLite (WAL, busy timeout, writes under BEGIN IMMEDIATE) or PostgreSQL."""
from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, exc, make_url
from sqlalchemy.dialects import postgresql, sqlite

from .groupcommit import GroupCommit

MIGRATIONS = Path(__file__).parent / "migrations"
AFTER_COMMIT = "certhook_after_commit"
MIGRATION_LOCK = 0x6365727468  # "certh": the PostgreSQL advisory lock migrations take
READERS_KEPT = 5  # SQLite: idle read connections kept open (each has its page cache)
IDLE_PING_SECONDS = 2.0  # a PostgreSQL connection unused this long is pinged before it is used


def _sqlite_engine(url: str, **pool: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def _postgresql_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        """SQLAlchemy's pre-ping, for a connection idle a while (a database restarted meanwhile
        broke it): one used moments ago is alive, and a ping before every transaction cost a
        tenth of a job runner's CPU. A dead one: every pooled connection is made anew."""
        now = time.monotonic()
        idle, record.info["used"] = now - record.info.get("used", now), now
        if idle > IDLE_PING_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except engine.dialect.loaded_dbapi.Error as err:
                raise exc.InvalidatePoolError("the connection was lost while idle") from err

    return engine


_OPEN: weakref.WeakSet[Database] = weakref.WeakSet()  # this process's databases


def _in_child() -> None:
    for db in list(_OPEN):
        db._forked()


os.register_at_fork(after_in_child=_in_child)  # once, not once per Database made


class Database:
    """Two doors to one database: write() takes the write lock up front, read() doesn't."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self._statements: dict[tuple[str, tuple[str, ...]], Insert] = {}
        self._lock_file: IO[bytes] | None = None
        self._writing: Connection | None = None  # SQLite's one write connection, kept open
        self._reading: list[Connection] = []  # SQLite's idle read connections, kept open
        self._reading_lock = threading.Lock()
        _OPEN.add(self)
        if self.is_sqlite:
            database = make_url(url).database
            self._lock_path = f"{database}-writer" if database and database != ":memory:" else os.devnull
            self.engine = _sqlite_engine(url, pool_size=1, max_overflow=0)  # taken after _writer()
            self.read_engine = _sqlite_engine(url)
        else:
            self.engine = _postgresql_engine(url)
            self.read_engine = self.engine
        self.grouped = GroupCommit(self.driver_write)  # the webhooks' one short write each

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; what after_commit() asked for runs once it has committed."""
        callbacks: list[Callable[[], None]] = []
        # SQLite has one writer. Threads of one process, then processes, queue here in turn,
        # rather than in SQLite's busy handler, which sleeps in steps (1, 2, 5 ... 100 ms) and
        # makes the slowest answers far slower. Their turns share one connection, whose page
        # cache stays warm (a connection that another one's commit left behind reads anew).
        with self._writer() as kept, self._transaction(kept or self.engine, "BEGIN IMMEDIATE") as conn:
            conn.info[AFTER_COMMIT] = callbacks
            try:
                yield conn
            finally:
                if not conn.invalidated:  # lost (its info can't be read): it is not pooled again
                    del conn.info[AFTER_COMMIT]
        for callback in callbacks:
            callback()

    @contextmanager
    def _writer(self) -> Iterator[Connection | None]:
        """This process's turn to write, on SQLite: the threads' lock, then the processes' (an
        flock on a file beside the database, let go by the kernel if the process dies); with
        the one write connection, kept open from turn to turn. PostgreSQL: no turn (None)."""
        if not self.is_sqlite:
            yield None
            return
        with self._write_lock:
            if self._lock_file is None:
                self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115  (kept open)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                if self._writing is None or self._writing.invalidated:
                    self._writing = self.engine.connect()
                yield self._writing
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def driver_write(self) -> Iterator[Any]:
        """A write transaction on the driver's own cursor, for driver.execute(): the same
        lock and isolation as write(), without SQLAlchemy between (the webhook's hot path)."""
        with self._writer() as kept:
            raw = kept.connection.dbapi_connection if kept else self.engine.raw_connection()
            cursor = raw.cursor()
            try:
                if kept:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cursor.close()
                if not kept:
                    raw.close()

    @staticmethod
    def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
        """Run callback once conn's write() transaction has committed (never, if it rolls back)."""
        conn.info[AFTER_COMMIT].append(callback)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; on SQLite on a connection kept open (the last used first), not
        one checked out of the pool and back each time."""
        if not self.is_sqlite:  # the pool's checkout pings a PostgreSQL connection left idle
            with self._transaction(self.read_engine, "BEGIN") as conn:
                yield conn
            return
        kept = self._reader()
        try:
            with self._transaction(kept, "BEGIN") as conn:
                yield conn
        finally:
            self._give_back(kept)

    def _give_back(self, kept: Connection) -> None:
        with self._reading_lock:
            if not kept.invalidated and len(self._reading) < READERS_KEPT:
                self._reading.append(kept)
                return
        kept.close()  # back to the pool, which closes what it has no room for

    def _reader(self) -> Connection:
        with self._reading_lock:
            if self._reading:
                return self._reading.pop()
        return self.read_engine.connect()

    def _forked(self) -> None:
        """In a child process just forked: the parent's connections, lock file and thread locks
        (held, perhaps, by a thread the child does not have) are the parent's."""
        self._write_lock, self._reading_lock = threading.Lock(), threading.Lock()
        self.grouped = GroupCommit(self.driver_write)
        if self._lock_file is not None:
            self._lock_file.close()  # the parent's flock stays: its own descriptor holds it
        self._lock_file, self._writing, self._reading = None, None, []
        self.engine.dispose(close=False)
        self.read_engine.dispose(close=False)

    @contextmanager
    def _transaction(self, on: Engine | Connection, sqlite_begin: str) -> Iterator[Connection]:
        """begin(), saying SQLite's BEGIN ourselves (the driver's own is off), on a connection of
        the engine's pool or on one kept open. Not with an engine "begin" event: any engine event
        costs every statement a dispatch."""
        with on.connect() if isinstance(on, Engine) else nullcontext(on) as conn, \
                conn.begin():  # the body raised: rolled back
            if self.is_sqlite:  # on the driver: SQLAlchemy's execute costs 50 µs more
                conn.connection.dbapi_connection.execute(sqlite_begin)  # type: ignore[union-attr]
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
        # Imported here, once per process: Alembic (with Mako) is 10 MB that a web process
        # that never migrates should not carry.
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
        with self._write_lock, self._reading_lock:
            kept = ([self._writing] if self._writing is not None else []) + self._reading
            self._writing, self._reading = None, []
        for conn in kept:
            conn.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.engine.dispose()
        self.read_engine.dispose()
