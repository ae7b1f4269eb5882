"""The tables (SQLAlchemy Core); their closed values are in statuses.py.

Ids from the stores are text: Shopify's exceed 2^53."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("shop", String(64), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("order_name", String(255), nullable=False, default=""),
    Column("email", String(254), nullable=False, default=""),
    Column("customer_name", String(255), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("shadow", Boolean, nullable=False, default=False),
    Column("order_json", Text, nullable=False),
    Column("evaluation_json", Text, nullable=True),
    Column("writeback_status", String(16), nullable=True),
    Column("writeback_error", Text, nullable=True),
    Column("note_posts", Integer, nullable=False, default=0),  # customer notes sent (WooCommerce)
    Column("note_sent_at", Float, nullable=True),
    Column("cancelled_at", Float, nullable=True),  # as the store said, or when we heard
    Column("refunded", String(8), nullable=False, default="none", server_default="none"),
    Column("payload", Text, nullable=True),  # the store's body, until its first job reads it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("shop", "order_id", name="uq_orders_shop_order"),
    Index("ix_orders_created", "created_at"),
    Index("ix_orders_email", "email"),
    Index("ix_orders_order_id", "order_id"),
    Index("ix_orders_order_name", "order_name"),
    Index("ix_orders_status_created", "status", "created_at"),
    Index("ix_orders_shop_created", "shop", "created_at"),
    Index("ix_orders_cancelled", "cancelled_at"),
    Index("ix_orders_writeback", "writeback_status"),
)

# The order's timeline: received, evaluated, each attempt and its outcome, issued, written back.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_pk", Integer, ForeignKey("orders.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_events_order", "order_pk", "at"),
)

# What an order earns, one row per certificate, offering or CertFusion certificate.
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_pk", Integer, ForeignKey("orders.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("issuer", String(16), nullable=False),
    Column("allocation_id", BigInteger, nullable=True),  # a certificate's
    Column("list_id", BigInteger, nullable=True),        # a CertFusion certificate's
    Column("line_item_id", String(64), nullable=False, default=""),  # an offering's
    Column("impact_qty", BigInteger, nullable=False),
    Column("rules", Text, nullable=False, default="[]"),
    Column("impact", Text, nullable=True),
    # The identity of the item at its issuer, derived before any call; the one guard against
    # a second item for the same thing.
    Column("external_unique_id", String(255), nullable=False, unique=True),
    Column("request_json", Text, nullable=True),  # the create body, fixed before the first try
    Column("status", String(16), nullable=False),
    Column("posts", Integer, nullable=False, default=0),  # create calls counted before sending
    Column("certificate_id", String(255), nullable=True),
    Column("certificate_url", Text, nullable=True),
    Column("certificate_image_url", Text, nullable=True),
    Column("code", String(255), nullable=True),
    Column("claim_url", Text, nullable=True),
    Column("claims", Integer, nullable=True),
    Column("claims_checked_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("issued_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_items_order", "order_pk"),
    Index("ix_items_issued", "status", "issued_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("shop", String(64), nullable=False, server_default=""),  # "": no shop's (balance, prune)
    UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
    Index("ix_jobs_due", "status", "run_at"),
    Index("ix_jobs_shop_due", "status", "shop", "run_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("shop", String(64), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("event_id", String(128), nullable=True),
    Column("order_id", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("received_at", Float, nullable=False),
    Index("ix_deliveries_received", "received_at"),
    Index("ix_deliveries_event", "shop", "event_id"),
)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("last_started_at", Float, nullable=True),
    Column("last_success_at", Float, nullable=True),
    Column("window_start", Float, nullable=True),
    Column("found", Integer, nullable=False, default=0),
    Column("enqueued", Integer, nullable=False, default=0),
    # A failed run's error is its job's last_error, the one place the dashboard reads it from.
)

# Every process running jobs, and when it last said it was alive (its heartbeat).
processes = Table(
    "processes",
    metadata,
    Column("id", String(64), primary_key=True),  # host:pid:random, the prefix of its leases
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("role", String(16), nullable=False),  # serve or worker
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

# One row /healthz writes to, so "healthy" means the database takes a write.
health = Table(
    "health",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("checked_at", Float, nullable=False),
)

# Named counts shared by every process: wrong tokens per client and in all (the sign-in and API
# throttles), and the dashboard's session epoch (signing out ends every session).
counters = Table(
    "counters",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The Dots.eco app's balance as asked every 15 minutes, kept a month: how long it will last.
balances = Table(
    "balances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("checked_at", Float, nullable=False),
    Column("balance", Float, nullable=True),  # null: unknown (see error)
    Column("error", Text, nullable=True),
    Index("ix_balances_checked", "checked_at"),
)

# A Shopify app shop's connection: its tokens (sealed: encrypted at rest), shared by every
# process. One renewal at a time: a process leases the row (renewing_until) in a short
# transaction and calls Shopify outside any; `generation` counts the tokens it has had.
shop_connections = Table(
    "shop_connections",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("connect", String(32), nullable=False),  # client_credentials or authorization_code
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),  # why it is not connected
    Column("access_token", Text, nullable=True),
    Column("scope", Text, nullable=False, default=""),
    Column("expires_at", Float, nullable=True),
    Column("renew_at", Float, nullable=True),
    Column("refresh_token", Text, nullable=True),
    Column("refresh_expires_at", Float, nullable=True),
    # Kept until the new pair has worked once: a refresh whose answer was lost is tried again
    Column("previous_refresh_token", Text, nullable=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("renewing_until", Float, nullable=True),
    Column("renewing_by", String(64), nullable=True),
    Column("updated_at", Float, nullable=False),
)

# A storefront shop's impact as last written to its Shopify metafield (written again only when
# it changed), and what each of its products earns, kept between the readings of its products.
storefront_syncs = Table(
    "storefront_syncs",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("owner", String(128), nullable=True),  # gid://shopify/Shop/...
    Column("digest", String(64), nullable=True),  # of the value last written
    Column("written_at", Float, nullable=True),
    Column("products", Text, nullable=True),  # {"texts": [...], "products": {id: index}}
    Column("products_key", String(64), nullable=True),  # of the rules and names they came from
    Column("products_at", Float, nullable=True),
)

# Events out: one row per (endpoint, event), written in the transaction of the change it tells,
# sent by its endpoint's job with the same message id and body on every try.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint", String(16), nullable=False),  # Endpoint.key, its job's ref
    Column("url", Text, nullable=False),  # as it was when recorded (the dashboard and the metric)
    Column("key", String(255), nullable=False),  # the event: recorded once per endpoint
    Column("type", String(32), nullable=False), Column("message_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False),  # when it is due (again)
    Column("first_try_at", Float), Column("last_try_at", Float), Column("last_code", Integer),
    Column("last_answer", Text), Column("error", Text),  # the answer's first 200 characters
    Column("created_at", Float, nullable=False), Column("updated_at", Float, nullable=False),
    UniqueConstraint("endpoint", "key", name="uq_outbox_endpoint_key"),
    Index("ix_outbox_due", "endpoint", "status", "next_at"), Index("ix_outbox_status", "status"),
    Index("ix_outbox_created", "created_at"),
)
