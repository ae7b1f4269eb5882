"""The marshmallow schema of certhook.yaml: what each key may be, and its default."""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .statuses import EventType

DEFAULT_DOTS_URL = "https://impact.dots.eco/api/v1"
# What a live shop needs to call its store: any one of these sets
CREDENTIALS = {"shopify": (("access_token",), ("client_id", "client_secret")),
               "woocommerce": (("consumer_key", "consumer_secret"),)}
CONNECTS = ("client_credentials", "authorization_code")
_LONG_ENOUGH = "must be at least 16 characters"
MAX_ANSWER_BYTES = 10 * 1024 * 1024  # an answer from a service, read at most this far
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
EVENT_TYPES = [t.value for t in EventType if t != EventType.TEST]  # what an endpoint may ask for


class Secret(fields.String):
    """A token or key: spaces around it are dropped (a CRLF env file leaves a CR behind); a
    control character inside it is an error that names the key, never the value."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ValidationError("contains a control character (a stray CR or newline?)")
        return text


def _raise(message: str) -> bool:
    raise ValidationError(message)


def _seconds(default: float) -> fields.Float:
    return fields.Float(load_default=default, validate=validate.Range(min=0, min_inclusive=False))


def _answer_bytes() -> fields.Integer:
    return fields.Integer(load_default=MAX_ANSWER_BYTES, validate=validate.Range(min=1024))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DotsSchema(_Strict):
    api_url = fields.Url(load_default=DEFAULT_DOTS_URL, require_tld=False)
    auth_token = Secret(load_default="")
    app_token = Secret(load_default="")
    app_id = fields.Integer(load_default=0, validate=validate.Range(min=0))
    offering_app_token = Secret(load_default="")
    offering_club = fields.String(load_default="code_only",
                                  validate=validate.OneOf(["code_only", "mail", "remote_user_id"]))
    send_certificate_by_email = fields.Boolean(load_default=False)
    langcode = fields.String(load_default="en", validate=validate.Length(max=12))
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)
    max_answer_bytes = _answer_bytes()


class CertFusionSchema(_Strict):
    api_url = fields.Url(required=True, require_tld=False)
    api_token = Secret(required=True)
    certificate_url = fields.String(required=True)
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)
    max_answer_bytes = _answer_bytes()


class BudgetSchema(_Strict):
    allocations = fields.Dict(keys=fields.Integer(validate=validate.Range(min=1)),
                              values=fields.Integer(validate=validate.Range(min=0)), load_default=dict)
    offerings = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    warn_at = fields.Float(load_default=0.8, validate=validate.Range(min=0, max=1, min_inclusive=False))


LANGUAGES = ("en", "de", "fr", "es")  # the customer's page and the badges speak these


class StorefrontSchema(_Strict):
    enabled = fields.Boolean(load_default=False)
    languages = fields.List(fields.String(validate=validate.OneOf(LANGUAGES)), load_default=["en"],
                            validate=validate.Length(min=1))
    name = fields.String(load_default="", validate=validate.Length(max=100))
    accent = fields.String(load_default="", validate=lambda v: not v or bool(_COLOUR.match(v)) or
                           _raise("must be a colour written #rrggbb"))


class ShopSchema(_Strict):
    id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9-]{1,64}$", error="must match [a-z0-9-]+ (at most 64)"))
    platform = fields.String(required=True, validate=validate.OneOf(list(CREDENTIALS)))
    domain = fields.String(required=True, validate=validate.Length(min=1))
    webhook_secret = Secret(load_default="", validate=lambda v: not v or len(v) >= 16 or _raise(_LONG_ENOUGH))
    access_token = Secret(load_default="")
    client_id = Secret(load_default="")
    client_secret = Secret(load_default="")
    connect = fields.String(load_default=None, validate=validate.OneOf(CONNECTS))
    consumer_key = Secret(load_default="")
    consumer_secret = Secret(load_default="")
    api_url = fields.Url(load_default=None, require_tld=False)
    rules = fields.String(required=True)
    mode = fields.String(load_default="live", validate=validate.OneOf(["live", "shadow"]))
    trigger_statuses = fields.List(fields.String(), load_default=["completed"])
    reconcile_minutes = _seconds(10)
    hold_minutes = fields.Float(load_default=0, validate=validate.Range(min=0, max=7 * 24 * 60))
    budget = fields.Nested(BudgetSchema, load_default=None)
    storefront = fields.Nested(StorefrontSchema, load_default=None)
    connect_timeout = _seconds(5.0)
    read_timeout = _seconds(30.0)
    max_answer_bytes = _answer_bytes()

    @validates_schema(skip_on_field_errors=True)
    def credentials(self, data: dict[str, Any], **_: Any) -> None:
        _app(data)
        if not (data["webhook_secret"] or data["client_secret"]):
            raise ValidationError("is required (or, for a Shopify app, client_secret)", "webhook_secret")
        if data["mode"] != "live" or any(all(data[n] for n in names)
                                          for names in CREDENTIALS[data["platform"]]):
            return
        first = CREDENTIALS[data["platform"]][0]
        name = next(n for n in first if not data[n])
        raise ValidationError(f"is required for a live {data['platform']} shop" + (
            " (or client_id and client_secret: a Dev Dashboard app)" if data["platform"] == "shopify"
            else ""), name)


def _app(data: dict[str, Any]) -> None:
    """A Dev Dashboard app's settings hold together: id and secret, and no access_token beside them."""
    if data["platform"] != "shopify":
        for name in ("client_id", "client_secret", "connect"):
            if data[name]:
                raise ValidationError("is a Shopify app's setting", name)
        return
    if bool(data["client_id"]) != bool(data["client_secret"]):
        raise ValidationError("client_id and client_secret go together (the Dev Dashboard app's)",
                              "client_secret" if data["client_id"] else "client_id")
    if data["client_id"] and data["access_token"]:
        raise ValidationError("give either access_token (an admin-created app) or client_id and "
                              "client_secret (a Dev Dashboard app), not both", "access_token")
    if data["connect"] and not data["client_id"]:
        raise ValidationError("needs client_id and client_secret (a Dev Dashboard app)", "connect")


def _whsec(value: str) -> bool:
    """Standard Webhooks' secret: whsec_ and the base64 of 24 to 64 random bytes."""
    encoded = value.removeprefix("whsec_")
    try:  # padded or not: Standard Webhooks' libraries take either
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        key = b""
    if not value.startswith("whsec_") or not 24 <= len(key) <= 64:
        raise ValidationError("must be whsec_ followed by the base64 of 24 to 64 random bytes "
                              "(as Standard Webhooks has it)")
    return True


class EndpointSchema(_Strict):
    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    secret = Secret(required=True, validate=_whsec)
    types = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)),
                        load_default=lambda: list(EVENT_TYPES), validate=validate.Length(min=1))
    include_customer = fields.Boolean(load_default=False)


class SettingsSchema(_Strict):
    database_url = fields.String(load_default="sqlite:///certhook.db")
    secret_key = Secret(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    admin_token = Secret(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    # Signs the customer links (default: secret_key); a new value revokes every link given out
    customer_link_secret = Secret(load_default="", validate=lambda v: not v or len(v) >= 16 or
                                  _raise(_LONG_ENOUGH))
    workers = fields.Integer(load_default=8, validate=validate.Range(min=1, max=256))
    retry_base_seconds = _seconds(30)
    retry_max_seconds = _seconds(3600)
    max_attempts = fields.Integer(load_default=12, validate=validate.Range(min=1))
    lease_seconds = fields.Float(load_default=30, validate=validate.Range(min=1))
    metrics_token = Secret(load_default="", allow_none=True,
                           validate=lambda v: not v or len(v) >= 16 or _raise(_LONG_ENOUGH))
    public_url = fields.String(load_default="")
    # Encrypts stores' tokens at rest (default: derived from secret_key)
    token_key = Secret(load_default="", allow_none=True,
                       validate=lambda v: not v or len(v) >= 16 or _raise(_LONG_ENOUGH))
    trusted_proxies = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    retention_days = fields.Integer(load_default=90, validate=validate.Range(min=1))
    log_format = fields.String(load_default="text", validate=validate.OneOf(["text", "json"]))
    dots = fields.Nested(DotsSchema, load_default=None)
    certfusion = fields.Nested(CertFusionSchema, load_default=None)
    shops = fields.List(fields.Dict(), required=True)
    events = fields.List(fields.Nested(EndpointSchema), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def one_url_once(self, data: dict[str, Any], **_: Any) -> None:
        urls = [e["url"] for e in data["events"]]
        for i, url in enumerate(urls):
            if url in urls[:i]:
                raise ValidationError({str(i): {"url": ["appears more than once"]}}, "events")

    @validates_schema(skip_on_field_errors=True)
    def dots_credentials(self, data: dict[str, Any], **_: Any) -> None:
        dots = data["dots"] or {}
        if any(s.get("mode", "live") == "live" for s in data["shops"]):
            for name in ("auth_token", "app_token", "app_id"):
                if not dots.get(name):
                    raise ValidationError(f"dots.{name} is required when a shop is live", "dots")
