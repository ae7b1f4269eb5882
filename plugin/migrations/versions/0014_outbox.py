"""outbox: events out, one row per endpoint and event, until sent

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("first_try_at", sa.Float, nullable=True),
        sa.Column("last_try_at", sa.Float, nullable=True),
        sa.Column("last_code", sa.Integer, nullable=True),
        sa.Column("last_answer", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("endpoint", "key", name="uq_outbox_endpoint_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["endpoint", "status", "next_at"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_index("ix_outbox_created", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("outbox")
