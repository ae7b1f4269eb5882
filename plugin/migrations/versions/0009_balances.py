"""the Dots.eco balance, asked every 15 minutes and kept a month, to tell how long it lasts

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("checked_at", sa.Float, nullable=False),
        sa.Column("balance", sa.Float, nullable=True),  # null: unknown (see error)
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_balances_checked", "balances", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_balances_checked", "balances")
    op.drop_table("balances")
