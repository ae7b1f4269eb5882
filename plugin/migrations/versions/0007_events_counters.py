"""deliveries found by the store's event id (a redelivered event is a duplicate); counters
for the sign-in and API throttles and the dashboard's session epoch

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_event", "deliveries", ["shop", "event_id"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_index("ix_deliveries_event", "deliveries")
