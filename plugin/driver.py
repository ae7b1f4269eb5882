"""Statements run on the database driver's own cursor, without SQLAlchemy's machinery between.

SQLAlchemy's execute() costs 60-100 µs of CPU per statement (its execution context, parameter
and result processing), the driver's own 5-30: on the hot paths (a webhook, an order's jobs)
that was most of the database's share of the work. Only plain columns are read and written this
way (text, numbers, None; a StrEnum is text to both drivers); a Boolean reads back as 0 or 1 on
SQLite.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Executable, exc


class Prepared:
    """A Core statement compiled once for the database's driver, run on its cursor with plain
    values; an INSERT or UPDATE sets the `columns` named."""

    def __init__(self, engine: Engine, statement: Executable, columns: Collection[str] = ()):
        compiled = statement.compile(dialect=engine.dialect, column_keys=list(columns) or None)
        self.sql = str(compiled)
        self.positions = compiled.positiontup  # the driver's ? order, or None (%(name)s)
        # Values the statement carries (a status compared to, LIMIT 1's 1); the rest are given
        self.fixed = {name: compiled.params[name] for name, bind in compiled.binds.items()
                      if not bind.required and name in compiled.params}
        # A column left out takes its default (SQLAlchemy's, in Python): a constant one only
        defaults = [(c, c.default) for c in compiled.insert_prefetch] + \
            [(c, c.onupdate) for c in compiled.update_prefetch]
        self.runnable = all(d is not None and d.is_scalar for _, d in defaults) and \
            "POSTCOMPILE" not in self.sql  # an expanding IN is rendered per execute
        self.fixed |= {c.key: d.arg for c, d in defaults if self.runnable}
        self.row: Any = None  # the named tuple of its rows (False: it has none), once it answered

    def run(self, cursor: Any, **values: Any) -> Any:
        values = {**self.fixed, **values}
        cursor.execute(self.sql, values if self.positions is None else [values[k] for k in self.positions])
        return cursor

    def answer(self, cursor: Any) -> Answer:
        """What the cursor holds after run(): its rows, as named tuples, and its row count."""
        if self.row is None:  # its first answer: rows or none, and their names (psycopg makes its
            description = cursor.description  # description anew each time it is asked)
            self.row = False if description is None else \
                namedtuple("Row", [d[0] for d in description], rename=True)  # type: ignore[misc]
        if self.row is False:
            return Answer([], cursor.rowcount)
        rows = [self.row._make(r) for r in cursor.fetchall()]
        return Answer(rows, cursor.rowcount if cursor.rowcount >= 0 else len(rows))


class Answer:
    """A statement's answer, read the way the hot paths read SQLAlchemy's Result."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Any:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise (exc.NoResultFound if not self.rows else exc.MultipleResultsFound)(
                f"{len(self.rows)} rows where one was expected")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


# (dialect, the statement's id, the names of its values) -> (the statement, compiled)
_PREPARED: dict[tuple[str, int, tuple[str, ...]], tuple[Executable, Prepared]] = {}


def prepare(engine: Engine, statement: Executable, columns: Collection[str] = ()) -> Prepared:
    """The statement compiled for the engine's driver, setting `columns`, once: a statement
    built once (a module's constant, or Database.insert_new's) is known by its identity, and
    kept."""
    key = (engine.dialect.name, id(statement), tuple(columns))
    entry = _PREPARED.get(key)
    if entry is None or entry[0] is not statement:
        entry = _PREPARED[key] = (statement, Prepared(engine, statement, columns))
    return entry[1]


def execute(engine: Engine, cursor: Any, statement: Executable, **values: Any) -> Any:
    """Run the statement on a driver cursor (Database.driver_write's): the cursor, to fetch from."""
    prepared = prepare(engine, statement, values)
    if not prepared.runnable:
        raise TypeError("an expanding IN or a computed default needs SQLAlchemy: use run()")
    return prepared.run(cursor, **values)


def run(conn: Connection, statement: Executable, values: Mapping[str, Any] | None = None) -> Any:
    """conn.execute(statement, values), on the driver's cursor in conn's transaction, for a
    statement built once (see prepare()). One with a list parameter (an expanding IN) or a
    computed default goes through SQLAlchemy."""
    values = values or {}
    prepared = prepare(conn.engine, statement, values)
    if not prepared.runnable:
        return conn.execute(statement, values)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return prepared.answer(prepared.run(cursor, **values))
    finally:
        cursor.close()
