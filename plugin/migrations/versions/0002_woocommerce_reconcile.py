"""customer note bookkeeping on orders; reconciliation state per shop

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("note_posts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("note_sent_at", sa.Float, nullable=True))
    op.create_table(
        "reconciliations",
        sa.Column("shop", sa.String(64), primary_key=True),
        sa.Column("last_started_at", sa.Float, nullable=True),
        sa.Column("last_success_at", sa.Float, nullable=True),
        sa.Column("window_start", sa.Float, nullable=True),
        sa.Column("found", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enqueued", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("reconciliations")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("note_sent_at")
        batch.drop_column("note_posts")
