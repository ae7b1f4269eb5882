"""Everything a request, a job or a command needs, built once from the settings."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .db import Database
from .issuers.dots import DotsClient
from .jobs.queue import Queue
from .rules import Rule, RulesError, load_rules
from .settings import Settings, Shop


@dataclass
class Certhook:
    settings: Settings
    db: Database
    queue: Queue
    dots: DotsClient
    rules: dict[str, tuple[Rule, ...]]
    clock: Callable[[], float] | None = None  # tests move time on; else the wall clock

    def now(self) -> float:
        return self.clock() if self.clock is not None else time.time()

    def shop(self, shop_id: str) -> Shop | None:
        return self.settings.shop(shop_id)

    def close(self) -> None:
        """Let go of database connections and open HTTP connections."""
        self.dots.close()
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


def build(settings: Settings) -> Certhook:
    db = Database(settings.database_url)
    return Certhook(
        settings=settings,
        db=db,
        queue=Queue(db, settings.lease_seconds),
        dots=DotsClient(settings.dots),
        rules=rules_for(settings),
    )
