"""storefront_syncs: a storefront shop's impact as last written to its Shopify metafield

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storefront_syncs",
        sa.Column("shop", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("written_at", sa.Float, nullable=True),
        sa.Column("products", sa.Text, nullable=True),
        sa.Column("products_key", sa.String(64), nullable=True),
        sa.Column("products_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("storefront_syncs")
