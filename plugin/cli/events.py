"""certhook events test: a signed test event to each events endpoint, to see it arrive."""
from __future__ import annotations

import sys

import click

from ..outbox.send import send_test_events
from .common import config_option, context


@click.group()
def events() -> None:
    """Events out: signed events to the merchant's own automations."""


@events.command()
@config_option
@click.option("--url", default=None, help="send to this URL instead (signed with its endpoint's "
              "secret, or the first endpoint's)")
def test(config: str | None, url: str | None) -> None:
    """Send a signed `test` event to each endpoint now, and say what each answered."""
    with context(config) as ch:
        if not ch.settings.events:
            raise click.ClickException("no events endpoint in the settings (events:), so no "
                                       "secret to sign with")
        results = send_test_events(ch, url)
    for endpoint, message, sent in results:
        if sent.error is None:
            click.echo(f"{endpoint.url}: delivered ({sent.code}), webhook-id {message}")
        else:
            gone = " (certhook disables an endpoint that says 410 Gone)" if sent.code == 410 else ""
            click.echo(f"{endpoint.url}: not delivered: {sent.error.message}{gone}", err=True)
    if any(sent.error is not None for *_, sent in results):
        sys.exit(1)


COMMANDS = (events,)
