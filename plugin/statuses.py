"""The closed values: order, item, write-back, connection, job and event statuses, refunds, item
kinds, issuers, job kinds and event types. The API, the database and the metrics all say them as
these strings."""
from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"            # in its hold period: nothing is issued before it ends
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # cancelled (or fully refunded) before anything was sent
    FAILED = "failed"


class ItemStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    ISSUED = "issued"
    CANCELLED = "cancelled"  # its order was cancelled before its request was sent
    FAILED = "failed"


class Refunded(StrEnum):
    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


class WritebackStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ConnectionStatus(StrEnum):
    """A Shopify app shop's connection (shop_connections.status)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # the app was uninstalled: connecting again resumes it
    REFUSED = "refused"            # Shopify refused its credentials or its refresh token


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ItemKind(StrEnum):
    CERTIFICATE = "certificate"  # a Dots.eco certificate: one per order and allocation
    OFFERING = "offering"        # a Dots.eco eco club offering (a gift): one per line item
    CERTFUSION = "certfusion"    # a CertFusion certificate: one per order and list


class IssuerName(StrEnum):
    DOTS = "dots"
    CERTFUSION = "certfusion"


class JobKind(StrEnum):
    EVALUATE = "evaluate"    # the rules: what the order earns, recorded as pending items
    ISSUE = "issue"          # issue the order's pending items, each exactly once
    WRITEBACK = "writeback"  # write the order's issued items onto the store's order
    RECONCILE = "reconcile"  # ask one shop for paid orders certhook hasn't recorded
    PRUNE = "prune"          # daily: forget deliveries older than retention_days
    BALANCE = "balance"      # every 15 minutes: the Dots.eco app's balance
    STOREFRONT = "storefront"  # every minute: a Shopify shop's impact metafield, when it changed
    EVENTS = "events"        # one per events endpoint: send what was recorded for it, in order


class EventType(StrEnum):
    """What certhook tells an events endpoint (the `type` of each event it POSTs)."""

    ORDER_ISSUED = "order.issued"        # the order is done (or failed only in its write-back)
    ORDER_FAILED = "order.failed"
    ORDER_CANCELLED = "order.cancelled"
    BUDGET_WARNING = "budget.warning"    # a monthly cap passed its warn_at
    BUDGET_REACHED = "budget.reached"    # a monthly cap is used up
    BALANCE_LOW = "balance.low"          # the Dots.eco balance lasts under 14 days
    TEST = "test"                        # certhook events test


class EventStatus(StrEnum):
    PENDING = "pending"      # to send, or to send again
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"        # given up: 3 days of tries, or the endpoint said 410 Gone
