"""The rules file's schema: marshmallow in, frozen Rule dataclasses out."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

MATCH_KEYS = ("sku", "product_id", "variant_id", "title")
AMOUNTS = ("per_item", "per_order", "per_amount")
POSITIVE = "must be > 0"


@dataclass(frozen=True)
class Offering:
    """A gift: an eco club offering (redeem code and claim URL) per matching line item."""

    per_item: int
    limit_allocations: tuple[int, ...] = ()
    valid_days: int | None = None
    title: str = ""
    name_property: str = "Recipient name"
    email_property: str = "Recipient email"
    send_email_on_activation_date: bool | None = None


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
    offering: Offering | None = None
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
    def build(self, data: dict[str, Any], **_: Any) -> Offering:
        return Offering(**{**data, "limit_allocations": tuple(data["limit_allocations"])})


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
    certfusion = fields.Raw()

    @validates_schema(skip_on_field_errors=True)
    def one_amount(self, data: dict[str, Any], **_: Any) -> None:
        if "certfusion" in data:
            raise ValidationError("certfusion rules are not supported in this version", "certfusion")
        if "offering" in data:
            extra = [k for k in ("allocation_id", *AMOUNTS) if k in data]
            if extra:
                raise ValidationError(f"an offering rule takes no {', '.join(extra)}", "offering")
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
