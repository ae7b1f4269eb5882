"""counts and daily totals kept as they change: orders per shop and status, impact issued per
day; the store's order body kept until its first job reads it; failed write-backs found by index

Triggers keep both tallies in the transaction of the change, whatever code makes it. Each tally
is spread over 8 slots (by row id), so concurrent writers on PostgreSQL rarely wait on one row.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SLOTS = 8
COUNT_KEY = "shop, status, slot"
DAY_KEY = "day, shop, kind, allocation_id, list_id, slot"


def _count(row: str, sign: str) -> str:
    return (f"INSERT INTO order_counts ({COUNT_KEY}, orders) "
            f"VALUES ({row}.shop, {row}.status, {row}.id % {SLOTS}, {sign}1) "
            f"ON CONFLICT ({COUNT_KEY}) DO UPDATE SET orders = order_counts.orders + excluded.orders;")


def _day(row: str, sign: str, day: str) -> str:
    return (f"INSERT INTO impact_days ({DAY_KEY}, impact, impact_qty, certificates) VALUES ("
            f"{day}, (SELECT shop FROM orders WHERE id = {row}.order_pk), {row}.kind, "
            f"COALESCE({row}.allocation_id, 0), COALESCE({row}.list_id, 0), {row}.id % {SLOTS}, "
            f"{row}.impact, {sign}{row}.impact_qty, {sign}1) "
            f"ON CONFLICT ({DAY_KEY}) DO UPDATE SET "
            "impact_qty = impact_days.impact_qty + excluded.impact_qty, "
            "certificates = impact_days.certificates + excluded.certificates, "
            "impact = CASE WHEN impact_days.impact IS NULL OR excluded.impact > impact_days.impact "
            "THEN COALESCE(excluded.impact, impact_days.impact) ELSE impact_days.impact END;")


# (table, event, condition, row, sign): each trigger adds or takes away one row's part
TRIGGERS = [
    ("orders", "INSERT", None, "NEW", ""),
    ("orders", "UPDATE OF status", "OLD.status <> NEW.status", "OLD", "-"),
    ("orders", "UPDATE OF status", "OLD.status <> NEW.status", "NEW", ""),
    ("orders", "DELETE", None, "OLD", "-"),
    ("items", "INSERT", "NEW.status = 'issued'", "NEW", ""),
    ("items", "UPDATE OF status, issued_at, impact_qty, impact", "OLD.status = 'issued'", "OLD", "-"),
    ("items", "UPDATE OF status, issued_at, impact_qty, impact", "NEW.status = 'issued'", "NEW", ""),
    ("items", "DELETE", "OLD.status = 'issued'", "OLD", "-"),
]


def _body(table: str, row: str, sign: str, postgres: bool) -> str:
    if table == "orders":
        return _count(row, sign)
    when = f"COALESCE({row}.issued_at, {row}.updated_at) / 86400"
    return _day(row, sign, f"floor({when})::bigint" if postgres else f"CAST({when} AS INTEGER)")


def _name(n: int) -> str:
    table, event, _, row, _ = TRIGGERS[n]
    return f"tally_{table}_{event.split()[0].lower()}_{row.lower()}"


def _sqlite() -> list[str]:
    return [f"CREATE TRIGGER {_name(n)} AFTER {event} ON {table} "
            + (f"WHEN {condition} " if condition else "")
            + f"BEGIN {_body(table, row, sign, False)} END"
            for n, (table, event, condition, row, sign) in enumerate(TRIGGERS)]


def _postgres() -> list[str]:
    out = []
    for n, (table, event, condition, row, sign) in enumerate(TRIGGERS):
        out.append(f"CREATE FUNCTION {_name(n)}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {_body(table, row, sign, True)} RETURN NULL; END $$")
        out.append(f"CREATE TRIGGER {_name(n)} AFTER {event} ON {table} FOR EACH ROW "
                   + (f"WHEN ({condition}) " if condition else "")
                   + f"EXECUTE FUNCTION {_name(n)}()")
    return out


def _backfill() -> list[str]:
    day = "COALESCE(i.issued_at, i.updated_at) / 86400"
    day = f"floor({day})" if op.get_bind().dialect.name == "postgresql" else f"CAST({day} AS INTEGER)"
    return [
        f"INSERT INTO order_counts ({COUNT_KEY}, orders) "
        f"SELECT shop, status, id % {SLOTS}, count(*) FROM orders GROUP BY shop, status, id % {SLOTS}",
        f"INSERT INTO impact_days ({DAY_KEY}, impact, impact_qty, certificates) "
        f"SELECT {day}, o.shop, i.kind, COALESCE(i.allocation_id, 0), COALESCE(i.list_id, 0), "
        f"i.id % {SLOTS}, max(i.impact), sum(i.impact_qty), count(*) "
        "FROM items i JOIN orders o ON o.id = i.order_pk WHERE i.status = 'issued' "
        f"GROUP BY {day}, o.shop, i.kind, COALESCE(i.allocation_id, 0), COALESCE(i.list_id, 0), "
        f"i.id % {SLOTS}",
    ]


def upgrade() -> None:
    op.add_column("orders", sa.Column("payload", sa.Text, nullable=True))
    op.create_index("ix_orders_writeback", "orders", ["writeback_status"])
    op.create_table(
        "order_counts",
        sa.Column("shop", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("orders", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "impact_days",
        sa.Column("day", sa.BigInteger, primary_key=True),  # days since the epoch, UTC
        sa.Column("shop", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("allocation_id", sa.BigInteger, primary_key=True),  # 0: none
        sa.Column("list_id", sa.BigInteger, primary_key=True),        # 0: none
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("impact", sa.Text, nullable=True),
        sa.Column("impact_qty", sa.BigInteger, nullable=False),
        sa.Column("certificates", sa.BigInteger, nullable=False),
    )
    for statement in _backfill():
        op.execute(statement)
    for statement in _postgres() if op.get_bind().dialect.name == "postgresql" else _sqlite():
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for n, (table, *_) in enumerate(TRIGGERS):
        op.execute(f"DROP TRIGGER IF EXISTS {_name(n)}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {_name(n)}()")
    op.drop_table("impact_days")
    op.drop_table("order_counts")
    op.drop_index("ix_orders_writeback", "orders")
    op.drop_column("orders", "payload")
