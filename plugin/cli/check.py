"""certhook check and certhook preview: the settings and rules, and what an order would earn."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..allocations import label
from ..context import Certhook, build, rules_for, unused_budgets, warnings
from ..evaluation import earned_items
from ..http import ApiError
from ..issuers import certfusion
from ..orders import Order, PayloadError
from ..platforms import ADAPTERS
from ..rules import Evaluation, Rule, RulesError, evaluate
from ..settings import Settings, SettingsError, load_settings
from ..shopify_setup import report
from ..statuses import ItemKind
from .common import config_option, context
from .whatif import preview_window


@click.command()
@config_option
@click.option("--online", is_flag=True,
              help="also ask Dots.eco and CertFusion whether the rules' allocations and lists "
              "exist, and each Shopify shop for its connection, scopes and webhooks")
def check(config: str | None, online: bool) -> None:
    """Validate the settings and every rules file."""
    try:
        settings = load_settings(config)
        rules = rules_for(settings)
        if online:
            _check_lists(settings, rules)
            ch = build(settings)
            try:
                _check_allocations(ch)
                _check_shops(ch)
            finally:
                ch.close()
    except (SettingsError, RulesError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for warning in warnings(settings) + unused_budgets(settings, rules):
        click.echo(f"warning: {warning}", err=True)
    click.echo("ok")


def _check_allocations(ch: Certhook) -> None:
    """Every allocation id the rules name exists at Dots.eco (when it says which exist)."""
    try:
        known = ch.names.fetch()
    except ApiError as exc:
        click.echo(f"warning: allocation ids not checked: cannot ask Dots.eco: {exc.message}", err=True)
        return
    errors = [f'{shop.rules}:{r.line}: rule "{r.name}": allocation {r.allocation_id} does not exist '
              "at Dots.eco" for shop in ch.settings.shops for r in ch.rules[shop.id]
              if r.allocation_id and not r.offering and known and r.allocation_id not in known]
    if errors:
        raise RulesError(errors)


def _check_shops(ch: Certhook) -> None:
    """Each Shopify shop certhook can call: how it is connected, its scopes and webhooks."""
    shops = [s for s in ch.settings.shops if s.platform == "shopify" and s.has_api_credentials]
    if any(s.client_id for s in shops):
        ch.db.upgrade()  # its tokens are kept there
    problems = []
    for shop in shops:
        found, wrong = report(ch, shop)
        for line in found:
            click.echo(line, err=True)
        problems += wrong
    if problems:
        raise RulesError(problems)


def _check_lists(settings: Settings, rules: dict[str, tuple[Rule, ...]]) -> None:
    wanted = [(shop, r) for shop in settings.shops for r in rules[shop.id] if r.certfusion]
    if not wanted or settings.certfusion is None:
        return
    api = certfusion.CertFusion(settings.certfusion, certfusion.client(settings.certfusion))
    try:
        known = {int(lst["id"]) for lst in api.lists()}
    except ApiError as exc:
        raise RulesError([f"cannot ask CertFusion for its lists: {exc.message}"]) from None
    finally:
        api.http.close()
    errors = [f'{shop.rules}:{r.line}: rule "{r.name}": CertFusion list {r.certfusion.list_id} '
              "does not exist" for shop, r in wanted if r.certfusion and r.certfusion.list_id not in known]
    if errors:
        raise RulesError(errors)


def _read_order(order_file: str, platform: str, shop_id: str) -> Order:
    try:
        payload = json.loads(Path(order_file).read_text(encoding="utf-8"))
        if not isinstance(payload, dict):
            raise PayloadError("the file is not a JSON object")
        return ADAPTERS[platform].normalize(shop_id, payload)
    except (ValueError, PayloadError) as exc:
        raise click.ClickException(f"{order_file}: {exc}") from None


TARGETS = {ItemKind.OFFERING: "offerings", ItemKind.CERTFUSION: "a CertFusion certificate"}


def _print(order: Order, result: Evaluation, certificates: list[dict[str, Any]], shadow: bool,
           names: dict[int, str]) -> None:
    click.echo(f"order {order.order_name} ({order.order_id}) for shop {order.shop}")
    if order.test:
        click.echo("  a test order: certhook ignores it and issues nothing")
    for fired in result.fired:
        target = label(fired.allocation_id, names) if fired.allocation_id else TARGETS[fired.kind]
        click.echo(f"  rule {fired.rule!r}: {fired.impact_qty} for {target} "
                   f"({len(fired.line_item_ids)} line item(s))")
    for alloc in result.allocations:
        click.echo(f"  {label(alloc.allocation_id, names)}: impact_qty {alloc.impact_qty}")
    for cert in certificates:
        click.echo(f"  certificate: {json.dumps(cert, ensure_ascii=False)}")
    for offering in result.offerings:
        click.echo(f"  offering: quantity {offering.quantity} for line item {offering.line_item_id}"
                   + (f", limited to allocations {list(offering.limit_allocations)}"
                      if offering.limit_allocations else "")
                   + (f", valid {offering.valid_days} days" if offering.valid_days else ""))
    for cf in result.certfusion:
        click.echo(f"  CertFusion certificate: list {cf.list_id}, custom fields {dict(cf.custom_fields)}")
    if not result.earns_something:
        click.echo(f"  nothing to issue: {result.reason}")
    if shadow:
        click.echo("  (the shop is in shadow mode: it records this and issues nothing)")


@click.command()
@config_option
@click.option("--shop", "shop_id", required=True, help="the shop's id in certhook.yaml")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="what-if: replay the orders received since this day (UTC)")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="what-if: up to this day, included (default: today)")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None,
              help="what-if: the candidate rules file (default: today's)")
@click.argument("order_file", type=click.Path(exists=True, dir_okay=False), required=False)
def preview(config: str | None, shop_id: str, as_json: bool, since: datetime | None,
            until: datetime | None, rules_file: str | None, order_file: str | None) -> None:
    """What ORDER_FILE (a webhook payload) would issue; or, with --since, what the orders
    recorded would issue under today's rules and under --rules. Nothing is issued."""
    if since is not None:
        return preview_window(config, shop_id, since.date(), until and until.date(), rules_file,
                              as_json)
    if order_file is None:
        raise click.UsageError("give an ORDER_FILE, or --since DATE for a what-if")
    with context(config) as ch:
        shop = ch.shop(shop_id)
        if shop is None:
            raise click.ClickException(f"no shop {shop_id!r} in the settings")
        order = _read_order(order_file, shop.platform, shop.id)
        result = evaluate(ch.rules[shop.id], order)
        certificates = [ch.issuers[kind].request(order, earned, eid, ch.now())  # as evaluated
                        for kind, earned, eid, _ in earned_items(shop, order, result)
                        if kind == ItemKind.CERTIFICATE]
        names = {} if as_json else ch.names.all()
    if as_json:
        click.echo(json.dumps({"order_id": order.order_id, "test": order.test, **asdict(result),
                               "certificates": certificates}, indent=2))
    else:
        _print(order, result, certificates, shop.shadow, names)


COMMANDS = (check, preview)
