"""driver.run(): a constant statement on the driver's cursor answers what SQLAlchemy's execute()
answers, in the same transaction, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import bindparam, exc, func, select, update

from certhook.db import Database
from certhook.driver import run
from certhook.models import ItemStatus, items, orders

_ORDER = orders.insert().returning(orders.c.id)
_ITEM = items.insert().returning(items.c.id)  # line_item_id, rules, posts: Python-side defaults
_BY_ORDER = select(items).where(items.c.order_pk == bindparam("order_pk")).order_by(items.c.id)
_ONE = select(items.c.id, items.c.line_item_id, items.c.rules, items.c.posts).where(
    items.c.id == bindparam("item_id"))
_COUNT = update(items).where(items.c.order_pk == bindparam("order"),
                             items.c.status == ItemStatus.PENDING).values(posts=items.c.posts + 1)
_IN = select(items.c.id).where(items.c.id.in_(bindparam("ids", expanding=True))).order_by(items.c.id)
_HOW_MANY = select(func.count()).select_from(items)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


def order_values(order_id: str) -> dict[str, object]:
    return {"shop": "acme", "order_id": order_id, "status": "pending", "order_json": "{}",
            "created_at": 1.0, "updated_at": 1.0}


def item_values(order_pk: int, kind: str = "certificate") -> dict[str, object]:
    return {"order_pk": order_pk, "kind": kind, "issuer": "dots", "allocation_id": 32,
            "impact_qty": 1, "external_unique_id": f"{order_pk}-{kind}", "request_json": "{}",
            "status": ItemStatus.PENDING, "created_at": 1.0, "updated_at": 1.0}


def test_rows_counts_and_scalars_are_sqlalchemys(db: Database) -> None:
    with db.write() as conn:
        order_pk = run(conn, _ORDER, order_values("1")).scalar()
        first = run(conn, _ITEM, item_values(order_pk)).one().id
        run(conn, _ITEM, item_values(order_pk, "offering"))
        assert run(conn, _COUNT, {"order": order_pk, "updated_at": 2.0}).rowcount == 2
        ours = run(conn, _BY_ORDER, {"order_pk": order_pk}).all()
        theirs = conn.execute(_BY_ORDER, {"order_pk": order_pk}).all()
        assert [tuple(r) for r in ours] == [tuple(r) for r in theirs]
        assert [r.posts for r in ours] == [1, 1] and ours[0].id == first
        assert run(conn, _HOW_MANY).scalar() == 2
        assert run(conn, _BY_ORDER, {"order_pk": order_pk}).scalars() == [first, first + 1]
    with db.read() as conn:  # committed, like any write
        assert run(conn, _HOW_MANY).scalar() == 2


def test_a_column_left_out_takes_its_python_side_default(db: Database) -> None:
    with db.write() as conn:
        order_pk = run(conn, _ORDER, order_values("2")).scalar()
        item = run(conn, _ITEM, item_values(order_pk)).scalar()
        row = run(conn, _ONE, {"item_id": item}).one()
    assert (row.line_item_id, row.rules, row.posts) == ("", "[]", 0)


def test_an_expanding_in_goes_through_sqlalchemy(db: Database) -> None:
    with db.write() as conn:
        order_pk = run(conn, _ORDER, order_values("3")).scalar()
        ids = [run(conn, _ITEM, item_values(order_pk, kind)).scalar() for kind in ("certificate", "offering")]
        assert run(conn, _IN, {"ids": ids}).scalars().all() == ids
        assert run(conn, _IN, {"ids": ids[:1]}).scalars().all() == ids[:1]


def test_one_wants_exactly_one_row_and_a_rollback_undoes_the_statements(db: Database) -> None:
    with pytest.raises(exc.NoResultFound), db.write() as conn:
        run(conn, _ORDER, order_values("4"))
        run(conn, _ONE, {"item_id": 999}).one()
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar() == 0
