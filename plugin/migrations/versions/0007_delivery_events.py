"""deliveries found by the store's event id (a redelivered event is a duplicate)

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_event", "deliveries", ["shop", "event_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_event", "deliveries")
