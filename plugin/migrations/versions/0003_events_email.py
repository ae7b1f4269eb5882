"""order timeline events; email and name columns for search; when a certificate was issued

Revision ID: 0003
Revises: 0002
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=False, server_default=""))
        batch.add_column(sa.Column("customer_name", sa.String(255), nullable=False, server_default=""))
    orders = sa.table("orders", sa.column("id", sa.Integer), sa.column("order_json", sa.Text),
                      sa.column("email", sa.String), sa.column("customer_name", sa.String))
    conn = op.get_bind()
    for row in conn.execute(sa.select(orders.c.id, orders.c.order_json)).all():
        data = json.loads(row.order_json)
        conn.execute(orders.update().where(orders.c.id == row.id).values(
            email=(data.get("email") or "").lower()[:254],
            customer_name=(data.get("customer_name") or "")[:255]))
    op.create_index("ix_orders_email", "orders", ["email"])
    op.create_index("ix_orders_order_id", "orders", ["order_id"])
    op.create_index("ix_orders_order_name", "orders", ["order_name"])
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"])
    op.create_index("ix_orders_shop_created", "orders", ["shop", "created_at"])
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("issued_at", sa.Float, nullable=True))
    op.execute("UPDATE certificates SET issued_at = updated_at WHERE status = 'issued'")
    op.create_index("ix_certificates_issued", "certificates", ["status", "issued_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_pk", sa.Integer, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_events_order", "events", ["order_pk", "at"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index("ix_certificates_issued", "certificates")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("issued_at")
    op.drop_index("ix_orders_shop_created", "orders")
    op.drop_index("ix_orders_status_created", "orders")
    op.drop_index("ix_orders_email", "orders")
    op.drop_index("ix_orders_order_id", "orders")
    op.drop_index("ix_orders_order_name", "orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("customer_name")
        batch.drop_column("email")
