"""each job names its shop, so claims take turns between shops (one shop's backlog or slow store
never starves the rest)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("shop", sa.String(64), nullable=False, server_default=""))
    op.execute("UPDATE jobs SET shop = (SELECT orders.shop FROM orders WHERE CAST(orders.id AS VARCHAR(32))"
               " = jobs.ref) WHERE kind IN ('evaluate', 'issue', 'writeback')")
    op.execute("UPDATE jobs SET shop = '' WHERE shop IS NULL")
    op.execute("UPDATE jobs SET shop = ref WHERE kind = 'reconcile'")
    op.create_index("ix_jobs_shop_due", "jobs", ["status", "shop", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_shop_due", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("shop")
