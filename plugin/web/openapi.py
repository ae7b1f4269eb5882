"""GET /api/openapi.json: the OpenAPI 3.1 document of the JSON API (the public impact feed too),
the webhook endpoints, and the events certhook sends (its `webhooks`).

The test suite checks every answer of these endpoints it sees against this document.
"""
from __future__ import annotations

from importlib.metadata import version
from typing import Any

from flask import Blueprint, jsonify

from ..statuses import IssuerName, ItemKind, ItemStatus, OrderStatus, Refunded, WritebackStatus
from . import openapi_events

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **more}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


ITEM = {"type": "object", "required": [
    "kind", "issuer", "allocation_id", "impact_qty", "impact", "external_unique_id", "certificate_id",
    "certificate_url", "certificate_image_url", "status", "error"], "properties": {
    "kind": {"enum": list(ItemKind)}, "issuer": {"enum": list(IssuerName)},
    "allocation_id": _null("integer"), "impact_qty": {"type": "integer"}, "impact": _null("string"),
    "external_unique_id": {"type": "string", "maxLength": 255}, "certificate_id": _null("string"),
    "certificate_url": _null("string"), "certificate_image_url": _null("string"),
    "status": {"enum": list(ItemStatus)}, "error": _null("string"),
    "code": _null("string"), "claim_url": _null("string"), "claims": _null("integer"),
    "line_item_id": {"type": "string"}, "list_id": _null("integer")}}

ORDER = {"type": "object", "required": [
    "shop", "order_id", "order_name", "status", "customer_url", "certificates", "writeback",
    "reason", "created_at", "cancelled_at", "refunded", "shadow", "customer", "earned"], "properties": {
    "shop": {"type": "string"}, "order_id": {"type": "string"}, "order_name": {"type": "string"},
    "status": {"enum": list(OrderStatus)}, "customer_url": _null("string"),
    "certificates": {"type": "array", "items": _ref("Item")},
    "writeback": {"oneOf": [{"type": "null"}, {
        "type": "object", "required": ["status", "error"],
        "properties": {"status": {"enum": list(WritebackStatus)}, "error": _null("string")}}]},
    "reason": _null("string"), "created_at": {"type": "string", "format": "date-time"},
    "cancelled_at": _null("string", format="date-time"), "refunded": {"enum": list(Refunded)},
    "shadow": {"type": "boolean"},
    "customer": {"oneOf": [{"type": "null", "description": "in events to an endpoint without "
                            "include_customer"}, {"type": "object", "required": ["name", "email"],
                 "properties": {"name": {"type": "string"}, "email": {"type": "string"}}}]},
    "earned": _null("array", items={"type": "object", "required": ["allocation_id", "impact_qty"]})}}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "WebhookAnswer": {"type": "object", "required": ["status"], "additionalProperties": False,
                      "properties": {"status": {"enum": ["accepted", "duplicate", "ignored"]}}},
    "Item": ITEM,
    "Order": ORDER,
    "OrderList": {"type": "object", "required": ["data", "meta"], "properties": {
        "data": {"type": "array", "items": _ref("Order")},
        "meta": {"type": "object", "required": ["page", "per_page", "total"], "properties": {
            "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0}}}}},
    "Retried": {"type": "object", "required": ["retried", "order"], "properties": {
        "retried": {"type": "integer", "minimum": 0}, "order": _ref("Order")}},
    "Impact": {"type": "object", "additionalProperties": False,
               "required": ["shop", "updated_at", "paused", "totals"], "properties": {
        "shop": {"type": "string"}, "updated_at": _null("string", format="date-time"),
        "paused": {"type": "boolean", "description": "a monthly budget cap holds the shop's orders"},
        "totals": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "allocation_id", "impact", "quantity", "this_month"], "properties": {
                "kind": {"enum": [ItemKind.CERTIFICATE, ItemKind.OFFERING]},
                "allocation_id": _null("integer"), "impact": {"type": "string"},
                "quantity": {"type": "integer", "minimum": 0},
                "this_month": {"type": "integer", "minimum": 0}}}}}},
    "Earns": {"type": "object", "additionalProperties": False, "required": ["earns", "text", "paused"],
              "properties": {
        "paused": {"type": "boolean", "description": "a budget cap holds the shop's orders: show nothing"},
        "earns": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["impact", "allocation_id", "quantity"], "properties": {
                "impact": {"type": "string"}, "allocation_id": _null("integer"),
                "quantity": {"type": "integer", "minimum": 1}}}},
        "text": {"type": "string", "description": "\"Saves 1 sea turtle\"; empty when it earns nothing"}}},
}

_WEBHOOK_ANSWERS = {"200": _answer("recorded, a duplicate, or ignored", "WebhookAnswer"),
                    "400": _answer("the body is not a JSON object, or an order with a field that "
                                   "can't be read (the message names the field)"),
                    "401": _answer("a missing or wrong signature, or an unknown shop (the same answer)"),
                    "413": _answer("a body over 1 MiB")}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": {"type": "string"}}


def _webhook(summary: str, headers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"post": {"summary": summary, "security": [], "parameters": headers,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object"}}}},
                     "responses": _WEBHOOK_ANSWERS}}


def _path_params() -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in ("shop", "order_id")]


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


EARNS_QUERY = [*(_query(k, {"type": "string", "maxLength": 255}) for k in ("sku", "title")),
               *(_query(k, {"type": "string", "pattern": "^[0-9]{1,20}$"})
                 for k in ("product_id", "variant_id")),
               _query("price", {"type": "string", "description": "49.00"}),
               _query("quantity", {"type": "integer", "minimum": 1, "maximum": 10000})]

PATHS = {
    "/webhooks/shopify": _webhook(
        "A Shopify webhook (orders/paid, orders/cancelled, refunds/create, privacy)", [
            _header("X-Shopify-Hmac-Sha256", "base64 HMAC-SHA256 of the raw body (webhook secret)"),
            _header("X-Shopify-Topic", "orders/paid, ..."),
            _header("X-Shopify-Shop-Domain", "acme.myshopify.com"),
            _header("X-Shopify-Event-Id", "the event: a repeat is a duplicate")]),
    "/webhooks/woocommerce": _webhook(
        "A WooCommerce webhook (order.updated, order.created), or its ping", [
            _header("X-WC-Webhook-Signature", "base64 HMAC-SHA256 of the raw body (webhook secret)"),
            _header("X-WC-Webhook-Topic", "order.updated"),
            _header("X-WC-Webhook-Source", "https://shop.example.com/")]),
    "/api/orders": {"get": {"summary": "Orders, newest first, one page", "parameters": [
        _query("shop", {"type": "string"}), _query("status", {"enum": list(OrderStatus)}),
        _query("q", {"type": "string", "description": "an order id, order name or email, exactly"}),
        _query("page", {"type": "integer", "minimum": 1, "maximum": 10**6, "default": 1}),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
        "responses": {"200": _answer("the page", "OrderList"), "400": _answer("a parameter out of range"),
                      "401": _answer("no valid bearer token"), "429": _answer("too many wrong tokens")}}},
    "/api/orders/{shop}/{order_id}": {"get": {
        "summary": "One order with its certificates", "parameters": _path_params(),
        "responses": {"200": _answer("the order", "Order"), "401": _answer("no valid bearer token"),
                      "404": _answer("no such order"), "429": _answer("too many wrong tokens")}}},
    "/api/orders/{shop}/{order_id}/retry": {"post": {
        "summary": "Retry what failed: its items, or its write-back", "parameters": _path_params(),
        "responses": {"200": _answer("how many items were queued again, and the order", "Retried"),
                      "401": _answer("no valid bearer token"), "404": _answer("no such order"),
                      "413": _answer("a body over 64 KiB (it needs none)"),
                      "429": _answer("too many wrong tokens")}}},
    "/impact/{shop}.json": {"get": {
        "summary": "A shop's public impact (storefront on): nothing personal, cacheable by anyone",
        "security": [], "parameters": _path_params()[:1],
        "responses": {"200": _answer("the totals (ETag, Cache-Control: public, CORS *)", "Impact"),
                      "304": {"description": "If-None-Match matched"},
                      "404": _answer("no such shop, or its storefront is off")}}},
    "/impact/{shop}/earns.json": {"get": {
        "summary": "What one product line would earn under today's rules; nothing is recorded",
        "security": [], "parameters": _path_params()[:1] + EARNS_QUERY,
        "responses": {"200": _answer("what it earns", "Earns"),
                      "304": {"description": "If-None-Match matched"},
                      "400": _answer("a parameter that can't describe a line (the message names it)"),
                      "404": _answer("no such shop, or its storefront is off")}}},
    "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
}


def document() -> dict[str, Any]:
    return {"openapi": "3.1.0",
            "info": {"title": "certhook", "version": version("certhook"),
                     "description": "Paid orders in by webhook; their impact certificates, "
                                    "issued exactly once."},
            "paths": PATHS, "webhooks": openapi_events.WEBHOOKS, "security": [{"bearer": []}],
            "components": {"schemas": {**SCHEMAS, **openapi_events.SCHEMAS}, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the admin_token"}}}}


@bp.get("/api/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
