"""certificates become items: a CertFusion item carries its list_id, an offering no allocation;
one issue job per order replaces the certificate and certfusion jobs; order jobs are evaluate jobs.

Every certificate item still to be sent gets the request it will send, as certhook 0.1 built it
when sending, so an upgrade in the middle of a retry sends the same body again.

Revision ID: 0005
Revises: 0004
"""
import json
import re
import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def _certificate_request(order: dict, row: sa.Row) -> dict:
    """certhook 0.1's certificate/add fields, frozen here."""
    email, name = order.get("email") or "", (order.get("customer_name") or "").strip()
    fields = {"external_unique_id": row.external_unique_id, "impact_qty": row.impact_qty,
              "allocation_id": row.allocation_id,
              "remote_user_id": (order.get("customer_id") or email
                                 or f"{order['shop']}-order-{order['order_id']}")[:191],
              "certificate_info": order["order_id"][:255]}
    if name:
        fields["name_on_certificate"] = name[:255]
    if email and len(email) <= 254 and _EMAIL.match(email):
        fields["remote_user_email"] = email
    if order.get("currency"):
        fields["currency"] = order["currency"][:255]
    return fields


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_constraint("uq_certificates_order_allocation", type_="unique")
        batch.add_column(sa.Column("list_id", sa.BigInteger, nullable=True))
        batch.alter_column("allocation_id", existing_type=sa.BigInteger, nullable=True)
    op.drop_index("ix_certificates_issued", "certificates")
    op.rename_table("certificates", "items")
    op.create_index("ix_items_issued", "items", ["status", "issued_at"])
    op.create_index("ix_items_order", "items", ["order_pk"])
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE items SET list_id = allocation_id, allocation_id = NULL "
                         "WHERE kind = 'certfusion'"))
    conn.execute(sa.text("UPDATE items SET allocation_id = NULL WHERE kind = 'offering'"))
    waiting = conn.execute(sa.text(
        "SELECT items.id, items.external_unique_id, items.impact_qty, items.allocation_id, "
        "orders.order_json FROM items JOIN orders ON orders.id = items.order_pk "
        "WHERE items.kind = 'certificate' AND items.request_json IS NULL "
        "AND items.status <> 'issued'")).all()
    for row in waiting:
        conn.execute(sa.text("UPDATE items SET request_json = :r WHERE id = :id"), {
            "id": row.id, "r": json.dumps(_certificate_request(json.loads(row.order_json), row),
                                          ensure_ascii=False)})
    conn.execute(sa.text("UPDATE jobs SET kind = 'evaluate' WHERE kind = 'order'"))
    conn.execute(sa.text("DELETE FROM jobs WHERE kind IN ('certificate', 'certfusion')"))
    now = time.time()
    for (order_pk,) in conn.execute(sa.text(
            "SELECT DISTINCT order_pk FROM items WHERE status = 'pending'")).all():
        conn.execute(sa.text(
            "INSERT INTO jobs (kind, ref, status, run_at, attempts, created_at, updated_at) "
            "VALUES ('issue', :ref, 'queued', :now, 0, :now, :now)"), {"ref": str(order_pk), "now": now})


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM jobs WHERE kind = 'issue'"))
    conn.execute(sa.text("UPDATE jobs SET kind = 'order' WHERE kind = 'evaluate'"))
    conn.execute(sa.text("UPDATE items SET allocation_id = list_id WHERE kind = 'certfusion'"))
    conn.execute(sa.text("UPDATE items SET allocation_id = 0 WHERE allocation_id IS NULL"))
    op.drop_index("ix_items_order", "items")
    op.drop_index("ix_items_issued", "items")
    op.rename_table("items", "certificates")
    op.create_index("ix_certificates_issued", "certificates", ["status", "issued_at"])
    with op.batch_alter_table("certificates") as batch:
        batch.alter_column("allocation_id", existing_type=sa.BigInteger, nullable=False)
        batch.drop_column("list_id")
        batch.create_unique_constraint("uq_certificates_order_allocation", [
            "order_pk", "kind", "allocation_id", "line_item_id"])
