"""shop_connections: a Shopify app shop's tokens, encrypted, shared by every process

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_connections",
        sa.Column("shop", sa.String(64), primary_key=True),
        sa.Column("connect", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("access_token", sa.Text, nullable=True),
        sa.Column("scope", sa.Text, nullable=False, server_default=""),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("renew_at", sa.Float, nullable=True),
        sa.Column("refresh_token", sa.Text, nullable=True),
        sa.Column("refresh_expires_at", sa.Float, nullable=True),
        sa.Column("previous_refresh_token", sa.Text, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("renewing_until", sa.Float, nullable=True),
        sa.Column("renewing_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shop_connections")
