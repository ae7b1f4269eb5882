"""orders change after payment: when one was cancelled, how much was refunded, and until when it
is held before anything is issued

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("cancelled_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("refunded", sa.String(8), nullable=False, server_default="none"))
    op.create_index("ix_orders_cancelled", "orders", ["cancelled_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_cancelled", "orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("refunded")
        batch.drop_column("cancelled_at")
