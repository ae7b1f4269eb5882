"""The `certhook` command: one click group, a module per family of commands."""
from __future__ import annotations

import click

from . import audit, check, demo, events, init, maintenance, orders, serve, shopify


@click.group()
@click.version_option(package_name="certhook", message="certhook %(version)s")
def main() -> None:
    """certhook: impact certificates for paid orders, exactly once."""


for family in (init, serve, demo, check, orders, audit, maintenance, shopify, events):
    for command in family.COMMANDS:
        main.add_command(command)
