"""eco club offerings beside certificates: one per line item, with code, claim URL and claims

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("line_item_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("request_json", sa.Text, nullable=True))
        batch.add_column(sa.Column("code", sa.String(255), nullable=True))
        batch.add_column(sa.Column("claim_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("claims", sa.Integer, nullable=True))
        batch.add_column(sa.Column("claims_checked_at", sa.Float, nullable=True))
        batch.drop_constraint("uq_certificates_order_allocation", type_="unique")
        batch.create_unique_constraint("uq_certificates_order_allocation", [
            "order_pk", "kind", "allocation_id", "line_item_id"])


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_constraint("uq_certificates_order_allocation", type_="unique")
        batch.create_unique_constraint("uq_certificates_order_allocation",
                                       ["order_pk", "kind", "allocation_id"])
        for column in ("claims_checked_at", "claims", "claim_url", "code", "request_json",
                       "line_item_id"):
            batch.drop_column(column)
