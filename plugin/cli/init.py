"""certhook init: a starting certhook.yaml, a commented rules file and a .env of fresh secrets,
for one shop in shadow mode; then the next steps with this install's own URLs."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import click

from ..context import warnings
from ..onboarding import env_name, steps
from ..settings import load_settings
from ..settings_schema import CREDENTIALS

SETTINGS = """\
# certhook's settings: every key is in docs/settings.md. Each ${{NAME}} is read from the
# environment, else from .env beside this file (certhook init wrote it; keep it private).
database_url: sqlite:///certhook.db     # beside this file; postgresql+psycopg://... to scale out
secret_key: ${{CERTHOOK_SECRET_KEY}}      # signs sessions and customer links
admin_token: ${{CERTHOOK_ADMIN_TOKEN}}    # the dashboard's sign-in, and the API's bearer token
public_url: {public_url}                # where stores and customers reach certhook
shops:
  - id: {shop}
    platform: {platform}
    domain: {domain}
    webhook_secret: ${{{secret_name}}}    # the store signs its webhooks with it
    rules: rules/{shop}.yaml
    mode: shadow                        # records what each order would earn, issues nothing
"""

RULES = """\
# What {shop}'s orders earn: every rule that matches an order adds to it (docs/rules.md).
# `certhook preview` shows what an order would earn; `certhook check` finds mistakes.
rules:
  - name: A sea turtle with every hoodie  # shown in the order's reason and timeline
    match: {{sku: "HOODIE-*"}}             # which lines count: sku, product_id, variant_id, title
    allocation_id: 14                     # the Dots.eco allocation the certificate is for
    per_item: 1                           # impact per matched unit (or per_order, per_amount)
  - name: A tree for every 25 spent       # no match: every line but gift cards counts
    allocation_id: 32                     # another allocation: another certificate
    per_amount: 25                        # one per 25 spent on the matched lines
    max_qty: 100                          # the most one order earns by this rule
"""


def shop_id(domain: str) -> str:
    """acme.myshopify.com → acme."""
    first = re.sub(r"[^a-z0-9-]", "-", domain.lower().split(".")[0]).strip("-")
    return first[:64] or "shop"


def _write(path: Path, text: str, private: bool = False) -> None:
    """Create the file (never over one that exists)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with os.fdopen(os.open(path, flags, 0o600 if private else 0o644), "w", encoding="utf-8") as f:
        f.write(text)


@click.command()
@click.option("--dir", "where", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="where to write the files (default: here)")
@click.option("--platform", type=click.Choice(list(CREDENTIALS)), default=None)
@click.option("--domain", default=None, help="the store's domain, e.g. acme.myshopify.com")
@click.option("--public-url", default=None, help="where certhook is reached, e.g. https://certhook.example.com")
@click.option("--yes", is_flag=True, help="ask nothing: take the defaults for what is not given")
def init(where: Path, platform: str | None, domain: str | None, public_url: str | None, yes: bool) -> None:
    """Write certhook.yaml, rules/<shop>.yaml and .env (fresh secrets, mode 0600) for one shop
    in shadow mode. It never overwrites a file."""
    platform = platform or ("shopify" if yes else click.prompt(
        "Platform", type=click.Choice(list(CREDENTIALS)), default="shopify"))
    example = "your-store.myshopify.com" if platform == "shopify" else "shop.example.com"
    domain = (domain or (example if yes else click.prompt("The store's domain", default=example))).strip()
    public_url = public_url or ("http://127.0.0.1:8000" if yes else click.prompt(
        "certhook's public URL", default="http://127.0.0.1:8000"))
    shop = shop_id(domain)
    secret_name = env_name(shop, "WEBHOOK_SECRET")
    files = {where / "certhook.yaml": SETTINGS.format(public_url=public_url.rstrip("/"), shop=shop,
                                                      platform=platform, domain=domain,
                                                      secret_name=secret_name),
             where / "rules" / f"{shop}.yaml": RULES.format(shop=shop),
             where / ".env": "".join(f"{name}={secrets.token_urlsafe(32)}\n" for name in (
                 "CERTHOOK_SECRET_KEY", "CERTHOOK_ADMIN_TOKEN", secret_name))}
    there = [str(path) for path in files if path.exists()]
    if there:
        raise click.ClickException(f"{', '.join(there)} already exist{'s' if len(there) == 1 else ''}: "
                                   "certhook init never overwrites a file; nothing was written")
    (where / "rules").mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        _write(path, text, private=path.name == ".env")
        click.echo(f"wrote {path}" + (" (mode 0600: your secrets)" if path.name == ".env" else ""))
    settings = load_settings(where / "certhook.yaml")  # as certhook will read it
    for warning in warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"\nShop {shop!r} is in shadow mode. Next, in {where}:")
    for step in ("certhook check    # the settings and the rules hold together",
                 f"certhook serve    # the dashboard and the webhooks, at {public_url.rstrip('/')}",
                 "certhook demo     # sample orders: what they would earn"):
        click.echo(f"  {step}")
    click.echo("Then, to connect your store and go live:")
    for step in steps(settings.shops[0], settings.public_url):
        click.echo(f"  - {step}")


COMMANDS = (init,)
