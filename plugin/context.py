"""Everything a request, a job or a command needs, built once from the settings."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from . import issuers, redaction
from .allocations import Names
from .connections import Connections
from .db import Database
from .http import Pool
from .issuers import Issuer
from .jobs.queue import Queue
from .jobs.retry import Policy
from .platforms import ADAPTERS, StoreApi
from .rules import Rule, RulesError, load_rules
from .settings import Settings, Shop
from .statuses import ItemKind

log = logging.getLogger(__name__)


@dataclass
class Certhook:
    settings: Settings
    db: Database
    queue: Queue
    http: Pool
    issuers: dict[ItemKind, Issuer]
    rules: dict[str, tuple[Rule, ...]]
    policy: Policy
    names: Names  # allocation id → name, from Dots.eco
    connections: Connections  # Shopify apps' tokens
    clock: Callable[[], float] | None = None  # tests move time on; else the wall clock

    def now(self) -> float:
        """The one clock of certhook: every job, record and link reads the time here."""
        return self.clock() if self.clock is not None else time.time()

    def shop(self, shop_id: str) -> Shop | None:
        return self.settings.shop(shop_id)

    def store(self, shop: Shop) -> StoreApi:
        """The shop's admin API, one per shop, kept open."""
        return self.http.get((shop.platform, shop.id),
                             lambda: ADAPTERS[shop.platform].api(shop, self.connections))

    def close(self) -> None:
        """Let go of open HTTP connections and of the database's."""
        self.http.close()
        self.db.dispose()


def rules_for(settings: Settings) -> dict[str, tuple[Rule, ...]]:
    """Every shop's rules; RulesError lists every problem in every file."""
    errors: list[str] = []
    out: dict[str, tuple[Rule, ...]] = {}
    for shop in settings.shops:
        try:
            out[shop.id] = load_rules(shop.rules_path, shown_as=shop.rules)
        except RulesError as exc:
            errors.extend(exc.errors)
            continue
        if not settings.dots.offering_app_token:
            errors.extend(f'{shop.rules}:{r.line}: rule "{r.name}": offering needs '
                          "dots.offering_app_token (an Eco Club app) in the settings"
                          for r in out[shop.id] if r.offering)
        if settings.certfusion is None:
            errors.extend(f'{shop.rules}:{r.line}: rule "{r.name}": certfusion needs a certfusion '
                          "section in the settings" for r in out[shop.id] if r.certfusion)
    if errors:
        raise RulesError(errors)
    return out


def warnings(settings: Settings, now: float | None = None) -> list[str]:
    """What in the settings works today but wants changing (a retired Shopify API version, a
    public_url stores won't send to)."""
    today = datetime.fromtimestamp(now if now is not None else time.time(), UTC).date()
    plain = [f"public_url {settings.public_url} is not https: fine to try certhook on this machine; "
             "stores send webhooks only to https"] if settings.public_url.startswith("http://") else []
    return plain + [w for shop in settings.shops if (w := ADAPTERS[shop.platform].warning(shop, today))]


def unused_budgets(settings: Settings, rules: dict[str, tuple[Rule, ...]]) -> list[str]:
    """Budget caps no rule of the shop can use (a typo in an allocation id, say)."""
    out = []
    for shop in settings.shops:
        if shop.budget is None:
            continue
        issued = {r.allocation_id for r in rules[shop.id] if r.allocation_id and not r.offering}
        out += [f"shop {shop.id}: budget.allocations {a}: no rule of {shop.rules} issues allocation {a}"
                for a in sorted(shop.budget.allocations) if a not in issued]
        if shop.budget.offerings is not None and not any(r.offering for r in rules[shop.id]):
            out.append(f"shop {shop.id}: budget.offerings: no rule of {shop.rules} gives an offering")
    return out


def secrets_of(settings: Settings) -> list[str]:
    """Every credential in the settings: cut out of any error a service answers with."""
    found = [settings.secret_key, settings.admin_token, settings.metrics_token, settings.token_key,
             settings.customer_link_secret, settings.dots.auth_token, settings.dots.app_token,
             settings.dots.offering_app_token]
    if settings.certfusion:
        found.append(settings.certfusion.api_token)
    for shop in settings.shops:
        found += [shop.webhook_secret, shop.access_token, shop.consumer_key, shop.consumer_secret,
                  shop.client_secret]
    return found + [endpoint.secret for endpoint in settings.events]


def build(settings: Settings) -> Certhook:
    redaction.hide(*secrets_of(settings))
    db, pool = Database(settings.database_url), Pool()
    built = issuers.build(settings, pool)
    certificates = built.get(ItemKind.CERTIFICATE)
    queue = Queue(db, settings.lease_seconds, [shop.id for shop in settings.shops])
    certhook = Certhook(
        settings=settings, db=db, http=pool, queue=queue,
        issuers=built, rules=rules_for(settings),
        policy=Policy(settings.retry_base_seconds, settings.retry_max_seconds, settings.max_attempts),
        names=Names(lambda: certificates.http if certificates and settings.dots.auth_token else None),
        connections=Connections(db, settings, pool, queue, lambda: certhook.now()),
    )
    for warning in warnings(settings) + unused_budgets(settings, certhook.rules):
        log.warning("%s", warning)
    return certhook
