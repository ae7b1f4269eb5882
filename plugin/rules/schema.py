"""The rules file's schema: marshmallow in, frozen Rule dataclasses out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from string import Formatter
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

MATCH_KEYS = ("sku", "product_id", "variant_id", "title")
AMOUNTS = ("per_item", "per_order", "per_amount")
POSITIVE = "must be > 0"


@dataclass(frozen=True)
class OfferingSpec:
    """A rule's `offering`: an eco club offering (a gift with a redeem code and claim URL) per
    matching line item."""

    per_item: int
    limit_allocations: tuple[int, ...] = ()
    valid_days: int | None = None
    title: str = ""
    name_property: str = "Recipient name"
    email_property: str = "Recipient email"
    send_email_on_activation_date: bool | None = None


# What a CertFusion custom field may say: "{title} ({order_name})".
PLACEHOLDERS = ("title", "sku", "quantity", "order_name", "order_id", "order_date",
                "customer_name", "email", "shop")


@dataclass(frozen=True)
class CertFusionSpec:
    """A rule's `certfusion`: the buyer becomes a recipient of a CertFusion list, issued."""

    list_id: int
    custom_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    allocation_id: int = 0
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[tuple[str, tuple[str, ...]], ...] = ()
    per_item: int | None = None
    per_order: int | None = None
    per_amount: Decimal | None = None
    max_qty: int | None = None
    offering: OfferingSpec | None = None
    certfusion: CertFusionSpec | None = None
    line: int = 0  # where the rule starts in its file


class Globs(fields.Field):
    """A mapping of match keys to a glob or a list of globs."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict) or not value:
            raise ValidationError(f"must map some of {', '.join(MATCH_KEYS)} to globs")
        out = []
        for key, globs in value.items():
            if key not in MATCH_KEYS:
                raise ValidationError(f"unknown key {key!r} (use {', '.join(MATCH_KEYS)})")
            if isinstance(globs, (str, int)) and not isinstance(globs, bool):
                globs = [globs]
            if (
                not isinstance(globs, list)
                or not globs
                or not all(isinstance(g, (str, int)) and not isinstance(g, bool) for g in globs)
            ):
                raise ValidationError(f"{key} must be a glob or a list of globs")
            out.append((key, tuple(str(g) for g in globs)))
        return tuple(out)


class OfferingSchema(Schema):
    class Meta:
        unknown = RAISE

    per_item = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, error=POSITIVE))
    limit_allocations = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                                    load_default=())
    valid_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=3650))
    title = fields.String(load_default="", validate=validate.Length(max=255))
    name_property = fields.String(load_default="Recipient name")
    email_property = fields.String(load_default="Recipient email")
    send_email_on_activation_date = fields.Boolean()

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> OfferingSpec:
        return OfferingSpec(**{**data, "limit_allocations": tuple(data["limit_allocations"])})


def _placeholders(template: str) -> list[str]:
    try:
        return [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValidationError(f"is not a valid template: {exc}") from None


class Templates(fields.Field):
    """custom_fields: names (letters, digits, - and _) to templates with known placeholders."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("must map field names to text")
        out = []
        for key, template in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]+", str(key)):
                raise ValidationError(f"{key!r} is not a field name (letters, digits, - and _)")
            if not isinstance(template, (str, int, float)) or isinstance(template, bool):
                raise ValidationError(f"{key} must be text")
            for name in _placeholders(str(template)):
                if name not in PLACEHOLDERS:
                    raise ValidationError(f"{key}: unknown placeholder {{{name}}} "
                                          f"(use {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
            out.append((str(key), str(template)))
        return tuple(out)


class CertFusionSchema(Schema):
    class Meta:
        unknown = RAISE

    list_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, error=POSITIVE))
    custom_fields = Templates(load_default=())

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> CertFusionSpec:
        return CertFusionSpec(**data)


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, error="must not be empty"))
    match = Globs(load_default=())
    exclude = Globs(load_default=())
    allocation_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**10, error=POSITIVE))
    per_item = fields.Integer(strict=True, validate=validate.Range(min=1, error=POSITIVE))
    per_order = fields.Integer(strict=True, validate=validate.Range(min=1, error=POSITIVE))
    per_amount = fields.Decimal(validate=validate.Range(min=0, min_inclusive=False, error=POSITIVE))
    max_qty = fields.Integer(strict=True, validate=validate.Range(min=1, error=POSITIVE))
    offering = fields.Nested(OfferingSchema)
    certfusion = fields.Nested(CertFusionSchema)

    @validates_schema(skip_on_field_errors=True)
    def one_amount(self, data: dict[str, Any], **_: Any) -> None:
        if "offering" in data and "certfusion" in data:
            raise ValidationError("a rule has an offering or a certfusion action, not both", "offering")
        for kind in ("offering", "certfusion"):
            if kind in data:
                extra = [k for k in ("allocation_id", *AMOUNTS) if k in data]
                if extra:
                    raise ValidationError(f"{'an offering' if kind == 'offering' else 'a certfusion'}"
                                          f" rule takes no {', '.join(extra)}", kind)
                return
        if "allocation_id" not in data:
            raise ValidationError("is required", "allocation_id")
        given = [a for a in AMOUNTS if data.get(a) is not None]
        if len(given) != 1:
            raise ValidationError(
                "needs exactly one of per_item, per_order, per_amount"
                + (f" (has {', '.join(given)})" if given else "")
            )

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> Rule:
        return Rule(**data)


class RulesFileSchema(Schema):
    class Meta:
        unknown = RAISE

    rules = fields.List(fields.Nested(RuleSchema), required=True)
