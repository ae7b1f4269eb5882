"""certhook.yaml → frozen dataclasses, with ${NAME} read from the environment."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

DEFAULT_DOTS_URL = "https://impact.dots.eco/api/v1"
SHOPIFY_API_VERSION = "2025-07"
_LONG_ENOUGH = "must be at least 16 characters"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SettingsError(Exception):
    """The settings file can't be used; the message says where and why."""


@dataclass(frozen=True)
class DotsSettings:
    api_url: str = DEFAULT_DOTS_URL
    auth_token: str = ""
    app_token: str = ""
    app_id: int = 0
    offering_app_token: str = ""
    offering_club: str = "code_only"  # or "mail" / "remote_user_id", as the Eco Club app is set up
    send_certificate_by_email: bool = False
    langcode: str = "en"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class CertFusionSettings:
    api_url: str
    api_token: str
    certificate_url: str


@dataclass(frozen=True)
class Shop:
    id: str
    platform: str
    domain: str
    webhook_secret: str
    rules: str
    rules_path: Path
    api_url: str
    mode: str = "live"
    access_token: str = ""
    consumer_key: str = ""
    consumer_secret: str = ""
    trigger_statuses: tuple[str, ...] = ("completed",)
    reconcile_minutes: float = 10

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    @property
    def has_api_credentials(self) -> bool:
        """Whether certhook can call the store's admin API (a shadow shop may have none)."""
        if self.platform == "shopify":
            return bool(self.access_token)
        return bool(self.consumer_key and self.consumer_secret)


@dataclass(frozen=True)
class Settings:
    path: Path
    secret_key: str
    admin_token: str
    database_url: str = "sqlite:///certhook.db"
    workers: int = 8
    retry_base_seconds: float = 30
    retry_max_seconds: float = 3600
    max_attempts: int = 12
    lease_seconds: float = 300
    public_url: str = ""
    dots: DotsSettings = field(default_factory=DotsSettings)
    certfusion: CertFusionSettings | None = None
    shops: tuple[Shop, ...] = ()

    def shop(self, shop_id: str) -> Shop | None:
        return next((s for s in self.shops if s.id == shop_id), None)

    def shop_for_domain(self, platform: str, domain: str) -> Shop | None:
        domain = domain.strip().lower()
        return next(
            (s for s in self.shops if s.platform == platform and s.domain == domain), None
        )


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
    connect_timeout = fields.Float(load_default=5.0, validate=validate.Range(min=0, min_inclusive=False))
    read_timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0, min_inclusive=False))

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> DotsSettings:
        data["api_url"] = data["api_url"].rstrip("/")
        return DotsSettings(**data)


class CertFusionSchema(_Strict):
    api_url = fields.Url(required=True, require_tld=False)
    api_token = fields.String(required=True)
    certificate_url = fields.String(required=True)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> CertFusionSettings:
        return CertFusionSettings(**data)


class ShopSchema(_Strict):
    id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9-]{1,64}$", error="must match [a-z0-9-]+ (at most 64)"))
    platform = fields.String(required=True, validate=validate.OneOf(["shopify", "woocommerce"]))
    domain = fields.String(required=True, validate=validate.Length(min=1))
    webhook_secret = fields.String(required=True, validate=validate.Length(min=1))
    access_token = fields.String(load_default="")
    consumer_key = fields.String(load_default="")
    consumer_secret = fields.String(load_default="")
    api_url = fields.Url(load_default=None, require_tld=False)
    rules = fields.String(required=True)
    mode = fields.String(load_default="live", validate=validate.OneOf(["live", "shadow"]))
    trigger_statuses = fields.List(fields.String(), load_default=["completed"])
    reconcile_minutes = fields.Float(load_default=10, validate=validate.Range(min=0, min_inclusive=False))

    @validates_schema(skip_on_field_errors=True)
    def credentials(self, data: dict[str, Any], **_: Any) -> None:
        if data["mode"] != "live":
            return
        needed = ["access_token"] if data["platform"] == "shopify" else ["consumer_key", "consumer_secret"]
        for name in needed:
            if not data[name]:
                raise ValidationError(f"is required for a live {data['platform']} shop", name)


class SettingsSchema(_Strict):
    database_url = fields.String(load_default="sqlite:///certhook.db")
    secret_key = fields.String(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    admin_token = fields.String(required=True, validate=validate.Length(min=16, error=_LONG_ENOUGH))
    workers = fields.Integer(load_default=8, validate=validate.Range(min=1, max=256))
    retry_base_seconds = fields.Float(load_default=30, validate=validate.Range(min=0, min_inclusive=False))
    retry_max_seconds = fields.Float(load_default=3600, validate=validate.Range(min=0, min_inclusive=False))
    max_attempts = fields.Integer(load_default=12, validate=validate.Range(min=1))
    lease_seconds = fields.Float(load_default=300, validate=validate.Range(min=1))
    public_url = fields.String(load_default="")
    dots = fields.Nested(DotsSchema, load_default=None)
    certfusion = fields.Nested(CertFusionSchema, load_default=None)
    shops = fields.List(fields.Dict(), required=True)

    @validates_schema(skip_on_field_errors=True)
    def dots_credentials(self, data: dict[str, Any], **_: Any) -> None:
        dots = data["dots"] or DotsSettings()
        live = [s for s in data["shops"] if s.get("mode", "live") == "live"]
        if live:
            for name in ("auth_token", "app_token", "app_id"):
                if not getattr(dots, name):
                    raise ValidationError(f"dots.{name} is required when a shop is live", "dots")


def _expand(value: Any, path: str) -> Any:
    """Replace ${NAME} in every string with the environment variable NAME."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise SettingsError(f"{path}: environment variable {name} is not set")
            return os.environ[name]
        return _ENV_REF.sub(sub, value)
    return value


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix and key != "_schema" else (prefix or str(key))
            out.extend(_flatten(value, path))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {m}" for m in messages]
    return [f"{prefix}: {messages}"]


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("CERTHOOK_CONFIG") or "certhook.yaml")


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, expand and validate the settings file; SettingsError says what is wrong."""
    path = config_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        raise SettingsError(f"{path}:{line}: invalid YAML") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: the settings file must be a mapping")
    try:
        data = SettingsSchema().load(_expand(raw, ""))
        shops = []
        for i, shop in enumerate(data["shops"]):
            try:
                shops.append(_build_shop(ShopSchema().load(shop), path.parent))
            except ValidationError as exc:
                raise ValidationError({f"shops.{i}": exc.messages}) from None
    except ValidationError as exc:
        raise SettingsError("\n".join(f"{path}: {m}" for m in _flatten(exc.messages))) from None
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    ids = [s.id for s in shops]
    for shop_id in {i for i in ids if ids.count(i) > 1}:
        raise SettingsError(f"{path}: shops: id {shop_id!r} appears more than once")
    data["shops"] = tuple(shops)
    data["dots"] = data["dots"] or DotsSettings()
    data["database_url"] = _database_url(data["database_url"], path.parent)
    return Settings(path=path, **data)


def _build_shop(data: dict[str, Any], base: Path) -> Shop:
    domain = data["domain"].strip().lower().removeprefix("https://").removeprefix("http://")
    domain = domain.rstrip("/")
    if not data["api_url"]:
        data["api_url"] = (
            f"https://{domain}/admin/api/{SHOPIFY_API_VERSION}"
            if data["platform"] == "shopify"
            else f"https://{domain}/wp-json/wc/v3"
        )
    data["api_url"] = data["api_url"].rstrip("/")
    data["domain"] = domain
    data["trigger_statuses"] = tuple(data["trigger_statuses"])
    rules_path = Path(data["rules"])
    data["rules_path"] = rules_path if rules_path.is_absolute() else base / rules_path
    return Shop(**data)


def _database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the settings file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url
