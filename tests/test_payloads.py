"""The door reads a store's payload with marshmallow's Schema.load: whatever hostile values come
in, the answer is the fields read, or a PayloadError naming the first bad field's path and never
repeating its value."""
from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certhook.orders import PayloadError
from certhook.platforms import shopify_bodies, woocommerce
from certhook.platforms.payloads import load

from .helpers import order_payload, woo_order
from .test_fuzz import EXAMPLES, HOSTILE, SHOPIFY_PATHS, WOO_PATHS, put

REFUND = {"id": 1, "order_id": 5, "refund_line_items": [{"id": 1, "line_item_id": 8, "quantity": 1}]}
REDACT = {"shop_id": 1, "shop_domain": "acme.myshopify.com", "customer": {"id": 1, "email": "a@b.co"},
          "orders_to_redact": [5]}
SCHEMAS = [(shopify_bodies.OrderResource, order_payload(order_id=5), SHOPIFY_PATHS),
           (shopify_bodies.Refund, REFUND, SHOPIFY_PATHS),
           (shopify_bodies.CustomerRedact, REDACT, SHOPIFY_PATHS),
           (shopify_bodies.ShopRedact, REDACT, SHOPIFY_PATHS), (woocommerce._Order, woo_order(5), WOO_PATHS)]
NAMED = re.compile(r"^([a-z_]+(\.[a-z0-9_]+)*)?: [a-z].*$")  # `line_items.0.quantity: is not ...`


@pytest.mark.parametrize("schema, base, paths", SCHEMAS, ids=lambda x: getattr(x, "__qualname__", "-"))
def test_a_hostile_payload_is_read_or_refused_naming_the_field(schema, base, paths):  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
    @given(changes=st.lists(st.tuples(st.sampled_from(paths), HOSTILE), max_size=3),
           whole=st.one_of(st.none(), HOSTILE))
    def check(changes, whole):  # type: ignore[no-untyped-def]
        payload = copy.deepcopy(base) if whole is None else whole
        for path, value in changes:
            if isinstance(payload, dict):
                put(payload, path, copy.deepcopy(value))
        try:
            read = load(schema(), payload)
        except PayloadError as exc:
            message = str(exc)
            assert NAMED.match(message), message
            for _, value in changes:  # the value itself is never repeated
                assert not (isinstance(value, str) and len(value) > 3 and value in message)
        else:
            assert isinstance(read, dict)

    check()


def test_a_good_order_reads_as_it_was_sent():
    read = load(shopify_bodies.ORDER, order_payload(order_id=5, test=True))
    line = read["line_items"][0]
    assert read["id"] == "5" and read["test"] is True
    assert isinstance(line["price"], Decimal) and isinstance(line["quantity"], int)


def test_a_bad_field_is_named_with_its_path_and_not_its_value():
    bad = order_payload(order_id=5, line_items=[{"id": 1, "quantity": "two", "price": "1"}, "x"])
    with pytest.raises(PayloadError, match=r"^line_items\.0\.quantity: is not a whole number from 0 to "):
        load(shopify_bodies.ORDER, bad)
    with pytest.raises(PayloadError, match=r"^id: is not a whole number$"):
        load(shopify_bodies.ORDER, order_payload(order_id="5551234; DROP TABLE orders"))
    with pytest.raises(PayloadError, match=r"^: is not an object$"):
        load(shopify_bodies.ORDER, ["not", "an", "order"])


@pytest.mark.parametrize(("value", "read"), [("0005551234", "5551234"), (5551234, "5551234")])
def test_ids_are_kept_as_their_digits(value, read):
    assert load(shopify_bodies.ORDER, order_payload(order_id=value))["id"] == read


@pytest.mark.parametrize("flag", ["true", 1, "yes", None])
def test_a_flag_is_set_only_by_the_literal_true(flag):
    assert load(shopify_bodies.ORDER, order_payload(order_id=5, test=flag))["test"] is False
