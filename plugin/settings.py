"""certhook.yaml → frozen dataclasses, with ${NAME} read from the environment."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError

from .settings_file import SettingsError, config_path, expand, read, variables
from .settings_schema import CREDENTIALS, DEFAULT_DOTS_URL, MAX_ANSWER_BYTES, SettingsSchema, ShopSchema

# Shopify supports each quarterly Admin API version for 12 months: keep this a current one.
SHOPIFY_API_VERSION = "2026-10"
DEFAULT_API_URL = {"shopify": "https://{domain}/admin/api/" + SHOPIFY_API_VERSION,
                   "woocommerce": "https://{domain}/wp-json/wc/v3"}


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
    max_answer_bytes: int = MAX_ANSWER_BYTES


@dataclass(frozen=True)
class CertFusionSettings:
    api_url: str  # without the /api the reference's paths start with
    api_token: str
    certificate_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_answer_bytes: int = MAX_ANSWER_BYTES


@dataclass(frozen=True)
class Budget:
    """Monthly caps (calendar month, UTC): impact per allocation id, and offering units."""

    allocations: dict[int, int] = field(default_factory=dict)
    offerings: int | None = None
    warn_at: float = 0.8

    def caps(self) -> list[tuple[str, int]]:
        """(target, cap): `allocation:14`, `offerings`, as metrics and the dashboard name them."""
        found = [(f"allocation:{a}", cap) for a, cap in sorted(self.allocations.items())]
        return found + ([("offerings", self.offerings)] if self.offerings is not None else [])


@dataclass(frozen=True)
class Storefront:
    """What a shop shows shoppers: its public impact feed and badges, and its customer page."""

    enabled: bool = False
    languages: tuple[str, ...] = ("en",)  # the first is the default
    name: str = ""    # shown on the customer's page
    accent: str = ""  # #rrggbb: the page's and the badges' colour


@dataclass(frozen=True)
class Endpoint:
    """Where certhook POSTs its events (Standard Webhooks), and which."""

    url: str
    secret: str  # whsec_ + base64
    types: tuple[str, ...]  # the event types it wants
    include_customer: bool = False  # order events carry the customer's name and email

    @property
    def key(self) -> str:
        """Its short name in the database (its job's ref): from its URL."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


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
    client_id: str = ""      # a Dev Dashboard app's: certhook gets its own tokens
    client_secret: str = ""  # signs the app's webhooks too
    connect: str = ""        # client_credentials or authorization_code ("": access_token as it is)
    consumer_key: str = ""
    consumer_secret: str = ""
    trigger_statuses: tuple[str, ...] = ("completed",)
    reconcile_minutes: float = 10
    hold_minutes: float = 0  # wait this long after payment before issuing
    budget: Budget | None = None
    storefront: Storefront = field(default_factory=Storefront)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_answer_bytes: int = MAX_ANSWER_BYTES

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    @property
    def has_api_credentials(self) -> bool:
        """Whether certhook can call the store's admin API (a shadow shop may have none)."""
        return any(all(getattr(self, n) for n in names) for names in CREDENTIALS[self.platform])

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The keys its webhooks may be signed with: an app's client secret, and the key of
        webhooks made in the store's admin."""
        return tuple(s for s in (self.client_secret, self.webhook_secret) if s)

    @property
    def origin(self) -> str:
        """The scheme, host and port of its api_url: where Shopify's OAuth endpoints are."""
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}"


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
    lease_seconds: float = 30
    metrics_token: str = ""  # empty: GET /metrics answers 404
    public_url: str = ""
    token_key: str = ""  # encrypts stores' tokens at rest; "": derived from secret_key
    trusted_proxies: int = 0  # X-Forwarded-* hops to trust
    retention_days: int = 90  # deliveries older than this are pruned
    log_format: str = "text"  # or json: one JSON object per line
    customer_link_secret: str = ""  # signs customer links; "": the secret_key
    dots: DotsSettings = field(default_factory=DotsSettings)
    certfusion: CertFusionSettings | None = None
    shops: tuple[Shop, ...] = ()
    events: tuple[Endpoint, ...] = ()

    def shop(self, shop_id: str) -> Shop | None:
        return next((s for s in self.shops if s.id == shop_id), None)

    def shop_for_domain(self, platform: str, domain: str) -> Shop | None:
        domain = domain.strip().lower()
        return next(
            (s for s in self.shops if s.platform == platform and s.domain == domain), None
        )


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


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, expand and validate the settings file; SettingsError says what is wrong."""
    path = config_path(path)
    raw = read(path)
    try:
        data = SettingsSchema().load(expand(raw, "", variables(path)))
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
    dots = data["dots"] or {}
    data["dots"] = DotsSettings(**{**dots, "api_url": dots.get("api_url", DEFAULT_DOTS_URL).rstrip("/")})
    if data["certfusion"]:
        cf = data["certfusion"]
        # Written with or without the /api that every path of the reference starts with.
        data["certfusion"] = CertFusionSettings(**{
            **cf, "api_url": cf["api_url"].rstrip("/").removesuffix("/api").rstrip("/")})
    data["database_url"] = _database_url(data["database_url"], path.parent)
    data["metrics_token"] = data["metrics_token"] or ""  # `metrics_token:` left blank is unset
    data["customer_link_secret"] = data["customer_link_secret"] or data["secret_key"]
    data["token_key"] = data["token_key"] or ""
    data["public_url"] = data["public_url"].rstrip("/")
    data["events"] = tuple(Endpoint(**{**e, "types": tuple(e["types"])}) for e in data["events"])
    return Settings(path=path, **data)


def _build_shop(data: dict[str, Any], base: Path) -> Shop:
    domain = data["domain"].strip().lower().removeprefix("https://").removeprefix("http://")
    domain = domain.rstrip("/")
    data["api_url"] = (data["api_url"] or DEFAULT_API_URL[data["platform"]].format(domain=domain)).rstrip("/")
    data["domain"] = domain
    data["trigger_statuses"] = tuple(data["trigger_statuses"])
    data["connect"] = data["connect"] or ("client_credentials" if data["client_id"] else "")
    data["budget"] = Budget(**data["budget"]) if data["budget"] else None
    front = data["storefront"] or {}
    data["storefront"] = Storefront(**{**front, "languages": tuple(front.get("languages", ("en",)))})
    rules_path = Path(data["rules"])
    data["rules_path"] = rules_path if rules_path.is_absolute() else base / rules_path
    return Shop(**data)


def _database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the settings file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url
