"""orders, certificates, jobs, deliveries

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _orders()
    _certificates()
    _jobs()
    _deliveries()


def _orders() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("order_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("order_json", sa.Text, nullable=False),
        sa.Column("evaluation_json", sa.Text, nullable=True),
        sa.Column("writeback_status", sa.String(16), nullable=True),
        sa.Column("writeback_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("shop", "order_id", name="uq_orders_shop_order"),
    )
    op.create_index("ix_orders_created", "orders", ["created_at"])


def _certificates() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_pk", sa.Integer, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("issuer", sa.String(16), nullable=False),
        sa.Column("allocation_id", sa.BigInteger, nullable=False),
        sa.Column("impact_qty", sa.BigInteger, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("impact", sa.Text, nullable=True),
        sa.Column("external_unique_id", sa.String(255), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("posts", sa.Integer, nullable=False),
        sa.Column("certificate_id", sa.String(255), nullable=True),
        sa.Column("certificate_url", sa.Text, nullable=True),
        sa.Column("certificate_image_url", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "order_pk", "kind", "allocation_id", name="uq_certificates_order_allocation"
        ),
    )


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
    )
    op.create_index("ix_jobs_due", "jobs", ["status", "run_at"])


def _deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index("ix_deliveries_received", "deliveries", ["received_at"])


def downgrade() -> None:
    for table in ("deliveries", "jobs", "certificates", "orders"):
        op.drop_table(table)
