"""One adapter per store platform, in one table: the webhook view, write-back and reconciliation
go through it and never ask which platform they have."""
from __future__ import annotations

from .base import Adapter, Change, Erasure, PaidOrder, Plain, StoreApi, Topic, Webhook
from .shopify import Shopify
from .woocommerce import WooCommerce

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (Shopify(), WooCommerce())}

__all__ = ["ADAPTERS", "Adapter", "Change", "Erasure", "PaidOrder", "Plain", "StoreApi", "Topic", "Webhook"]
