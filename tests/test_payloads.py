"""The door's reader gives what marshmallow's Schema.load gives, value for value and error for
error, for hostile payloads of every schema a store's webhook is read with."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from certhook.orders import PayloadError
from certhook.platforms import shopify, woocommerce
from certhook.platforms.payloads import load, where

from .helpers import order_payload, woo_order
from .test_fuzz import EXAMPLES, HOSTILE, SHOPIFY_PATHS, WOO_PATHS, put

REFUND = {"id": 1, "order_id": 5, "refund_line_items": [{"id": 1, "line_item_id": 8, "quantity": 1}]}
REDACT = {"shop_id": 1, "shop_domain": "acme.myshopify.com", "customer": {"id": 1, "email": "a@b.co"},
          "orders_to_redact": [5]}
SCHEMAS = [(shopify._Order, order_payload(order_id=5), SHOPIFY_PATHS),
           (shopify._Refund, REFUND, SHOPIFY_PATHS), (shopify._CustomerRedact, REDACT, SHOPIFY_PATHS),
           (shopify._ShopRedact, REDACT, SHOPIFY_PATHS), (woocommerce._Order, woo_order(5), WOO_PATHS)]


def marshmallow_says(schema, payload):  # type: ignore[no-untyped-def]
    try:
        return schema().load(payload)
    except ValidationError as exc:
        return where(exc.messages)


def reader_says(schema, payload):  # type: ignore[no-untyped-def]
    try:
        return load(schema(), payload)
    except PayloadError as exc:
        return str(exc)


@pytest.mark.parametrize("schema, base, paths", SCHEMAS, ids=lambda x: getattr(x, "__qualname__", "-"))
def test_the_reader_reads_as_marshmallow_does(schema, base, paths):  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
    @given(changes=st.lists(st.tuples(st.sampled_from(paths), HOSTILE), max_size=3),
           whole=st.one_of(st.none(), HOSTILE))
    def check(changes, whole):  # type: ignore[no-untyped-def]
        payload = copy.deepcopy(base) if whole is None else whole
        for path, value in changes:
            if isinstance(payload, dict):
                put(payload, path, copy.deepcopy(value))
        assert reader_says(schema, payload) == marshmallow_says(schema, payload)

    check()


def test_a_good_order_reads_the_same_and_a_bad_one_names_the_same_field():
    good = order_payload(order_id=5)
    assert load(shopify._ORDER, good) == shopify._Order().load(good)
    bad = order_payload(order_id=5, line_items=[{"id": 1, "quantity": "two", "price": "1"}, "x"])
    assert reader_says(shopify._Order, bad) == marshmallow_says(shopify._Order, bad) \
        == "line_items.0.quantity: is not a whole number from 0 to 1000000"
