"""The marshmallow schema of certhook.yaml: what each key may be, and its default."""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

DEFAULT_DOTS_URL = "https://impact.dots.eco/api/v1"
CREDENTIALS = {"shopify": ("access_token",), "woocommerce": ("consumer_key", "consumer_secret")}
_LONG_ENOUGH = "must be at least 16 characters"


def _seconds(default: float) -> fields.Float:
    return fields.Float(load_default=default, validate=validate.Range(min=0, min_inclusive=False))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DotsSchema(_Strict):
    api_url = fields.Url(load_default=DEFAULT_DOTS_URL, require_tld=False)
    auth_token = fields.String(load_default="")
    app_token = fields.String(load_default="")
    app_id = fields.Integer(load_default=0, validate=validate.Range(min=0))
    offering_app_token = fields.String(load_default="")
    offering_club = fields.String(load_default="code_only",
                                  validate=validate.OneOf(["code_only", "mail", "remote_user_id"]))
    send_certificate_by_email = fields.Boolean(load_default=False)
    langcode = fields.String(load_default="en", validate=validate.Length(max=12))
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)


class CertFusionSchema(_Strict):
    api_url = fields.Url(required=True, require_tld=False)
    api_token = fields.String(required=True)
    certificate_url = fields.String(required=True)
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)


class ShopSchema(_Strict):
    id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9-]{1,64}$", error="must match [a-z0-9-]+ (at most 64)"))
    platform = fields.String(required=True, validate=validate.OneOf(list(CREDENTIALS)))
    domain = fields.String(required=True, validate=validate.Length(min=1))
    webhook_secret = fields.String(required=True, validate=validate.Length(min=1))
    access_token = fields.String(load_default="")
    consumer_key = fields.String(load_default="")
    consumer_secret = fields.String(load_default="")
    api_url = fields.Url(load_default=None, require_tld=False)
    rules = fields.String(required=True)
    mode = fields.String(load_default="live", validate=validate.OneOf(["live", "shadow"]))
    trigger_statuses = fields.List(fields.String(), load_default=["completed"])
    reconcile_minutes = _seconds(10)
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)

    @validates_schema(skip_on_field_errors=True)
    def credentials(self, data: dict[str, Any], **_: Any) -> None:
        if data["mode"] != "live":
            return
        for name in CREDENTIALS[data["platform"]]:
            if not data[name]:
                raise ValidationError(f"is required for a live {data['platform']} shop", name)


class SettingsSchema(_Strict):
    database_url = fields.String(load_default="sqlite:///certhook.db")
    secret_key = fields.String(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    admin_token = fields.String(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    workers = fields.Integer(load_default=8, validate=validate.Range(min=1, max=256))
    retry_base_seconds = _seconds(30)
    retry_max_seconds = _seconds(3600)
    max_attempts = fields.Integer(load_default=12, validate=validate.Range(min=1))
    lease_seconds = fields.Float(load_default=30, validate=validate.Range(min=1))
    metrics_token = fields.String(load_default="", allow_none=True)
    public_url = fields.String(load_default="")
    dots = fields.Nested(DotsSchema, load_default=None)
    certfusion = fields.Nested(CertFusionSchema, load_default=None)
    shops = fields.List(fields.Dict(), required=True)

    @validates_schema(skip_on_field_errors=True)
    def dots_credentials(self, data: dict[str, Any], **_: Any) -> None:
        dots = data["dots"] or {}
        if any(s.get("mode", "live") == "live" for s in data["shops"]):
            for name in ("auth_token", "app_token", "app_id"):
                if not dots.get(name):
                    raise ValidationError(f"dots.{name} is required when a shop is live", "dots")
