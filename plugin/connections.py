"""Each Shopify app shop's connection: its tokens, sealed at rest, shared by every process, and
renewed one process at a time.

A token is taken (client credentials) or refreshed (authorization code) before it expires: at
90 % of its life, and at least 2 minutes early. The renewal is claimed with a lease on the
shop's row in a short transaction; Shopify is called outside any transaction, and the other
processes go on with the token they have, or wait for the new one. A shop whose app was
uninstalled, or whose credentials Shopify refused, is not called at all until it is connected
again: what needs it waits (NotConnected), and connecting wakes it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, select, update

from .db import Database
from .http import ApiError, Client, NotConnected, Pool, Transient
from .jobs.processes import process_id
from .jobs.queue import Queue
from .models import shop_connections as table
from .platforms import shopify_auth as oauth
from .platforms.shopify_auth import Grant
from .redaction import hide
from .sealed import Sealer
from .settings import Settings, Shop
from .statuses import ConnectionStatus, JobKind

log = logging.getLogger(__name__)
RENEW_SHARE, RENEW_AT_LEAST = 0.1, 120.0  # renew this share of a token's life early, at least this
WAIT_STEP = 0.1  # while another process renews: look at the row this often
CLIENT_CREDENTIALS, AUTHORIZATION_CODE = "client_credentials", "authorization_code"
# What waits for a shop's connection
WAITING_KINDS = (JobKind.WRITEBACK, JobKind.RECONCILE, JobKind.STOREFRONT)


@dataclass(frozen=True)
class Token:
    value: str
    generation: int  # which of the shop's tokens: a 401 renews only the one that got it
    unconfirmed: bool = False  # a previous refresh token is kept until this one has worked


def renew_at(now: float, life: float | None) -> float | None:
    """When to renew a token that lives `life` seconds from now (None: never)."""
    if life is None:
        return None
    return now + max(life - max(RENEW_SHARE * life, RENEW_AT_LEAST), life / 2)


class Connections:
    def __init__(self, db: Database, settings: Settings, pool: Pool, queue: Queue,
                 clock: Callable[[], float]):
        self.db, self.settings, self.pool, self.queue, self.clock = db, settings, pool, queue, clock
        self.me = process_id()

    @cached_property
    def sealer(self) -> Sealer:
        """Built on first use: a process that never keeps a token never loads cryptography."""
        return Sealer(self.settings.token_key or self.settings.secret_key)

    def install_url(self, shop: Shop) -> str:
        return f"{self.settings.public_url}/shopify/install?shop={shop.domain}"

    def http(self, shop: Shop) -> Client:
        return self.pool.get(("shopify-oauth", shop.id), lambda: oauth.oauth_client(shop))

    def row(self, shop_id: str) -> Any:
        with self.db.read() as conn:
            return conn.execute(select(table).where(table.c.shop == shop_id)).first()

    def token(self, shop: Shop) -> Token:
        """The shop's current token, renewed first when it is due; NotConnected while the shop
        can't be called."""
        deadline = time.monotonic() + shop.connect_timeout + shop.read_timeout
        while True:
            row = self.row(shop.id) or self._first_row(shop)
            if row.status != ConnectionStatus.CONNECTED:
                raise NotConnected(self.why(shop, row))
            now, value = self.clock(), self.sealer.open(row.access_token)
            if value and (row.renew_at is None or now < row.renew_at):
                return self._token(row, value)
            if self._claim(shop, row, now):
                return self._renew(shop, row, value)
            if value and (row.expires_at is None or now < row.expires_at):
                return self._token(row, value)  # still good while another process renews it
            if time.monotonic() > deadline:
                raise Transient(f"Shopify: another process is renewing {shop.id}'s token")
            time.sleep(WAIT_STEP)

    def renewed(self, shop: Shop, stale: Token) -> Token:
        """After a 401 with `stale`: a new token, unless another process has one already."""
        with self.db.write() as conn:  # due now: the next token() claims its renewal
            conn.execute(update(table).where(table.c.shop == shop.id,
                                             table.c.generation == stale.generation)
                         .values(renew_at=self.clock()))
        return self.token(shop)

    def confirmed(self, shop: Shop, token: Token) -> None:
        """A call with this token worked: the refresh token before it may go."""
        if token.unconfirmed:
            with self.db.write() as conn:
                conn.execute(update(table).where(table.c.shop == shop.id,
                                                 table.c.generation == token.generation)
                             .values(previous_refresh_token=None))

    def refused(self, shop: Shop, message: str) -> NotConnected:
        """A fresh token refused too: the shop waits for the merchant (Needs attention)."""
        with self.db.write() as conn:
            conn.execute(update(table).where(table.c.shop == shop.id).values(
                status=ConnectionStatus.REFUSED, error=message, renewing_until=None,
                updated_at=self.clock()))
        log.warning("shop %s: %s", shop.id, message)
        return NotConnected(message)

    def _token(self, row: Any, value: str) -> Token:
        hide(value, group=f"shopify:{row.shop}")
        return Token(value, row.generation, row.previous_refresh_token is not None)

    def _first_row(self, shop: Shop) -> Any:
        """A client-credentials shop's row, made on first need; an install makes the other kind's."""
        if shop.connect != CLIENT_CREDENTIALS:
            raise NotConnected(self.why(shop, None))
        with self.db.write() as conn:
            conn.execute(self.db.insert_new(table, "shop"), {
                "shop": shop.id, "connect": shop.connect, "status": ConnectionStatus.CONNECTED,
                "scope": "", "generation": 0, "updated_at": self.clock()})
        return self.row(shop.id)

    def _claim(self, shop: Shop, row: Any, now: float) -> bool:
        """Lease the renewal of this generation of the shop's token, if no one holds it."""
        lease = 2 * (shop.connect_timeout + shop.read_timeout) + 5  # two calls at most
        with self.db.write() as conn:
            return conn.execute(update(table).where(
                table.c.shop == row.shop, table.c.generation == row.generation,
                table.c.status == ConnectionStatus.CONNECTED,
                (table.c.renewing_until.is_(None)) | (table.c.renewing_until < now),
            ).values(renewing_until=now + lease, renewing_by=self.me)).rowcount == 1

    def _renew(self, shop: Shop, row: Any, current: str | None) -> Token:
        """Ask Shopify, outside any transaction, and keep what it gives."""
        try:
            grant = self._grant(shop, row)
        except NotConnected as exc:
            raise self.refused(shop, exc.message) from None
        except ApiError:
            with self.db.write() as conn:  # let the next need try again
                conn.execute(update(table).where(table.c.shop == shop.id, table.c.renewing_by == self.me)
                             .values(renewing_until=None))
            if current and (row.expires_at is None or self.clock() < row.expires_at):
                log.warning("shop %s: renewing its token failed; the current one still works", shop.id)
                return self._token(row, current)
            raise
        with self.db.write() as conn:  # unless an uninstall came meanwhile (a new generation)
            self._keep(conn, shop, grant, row)
        return self.token(shop)

    def _grant(self, shop: Shop, row: Any) -> Grant:
        if shop.connect == CLIENT_CREDENTIALS:
            return oauth.client_credentials(self.http(shop), shop)
        current, previous = (self.sealer.open(t) for t in (row.refresh_token, row.previous_refresh_token))
        if not (current or previous):
            raise NotConnected(f"{shop.id}'s refresh token can't be read (a new token_key?): "
                               f"connect it again: open {self.install_url(shop)}")
        try:
            return oauth.refresh(self.http(shop), shop, current or previous or "")
        except NotConnected:
            if not (current and previous):
                raise
            log.warning("shop %s: its refresh token was refused; trying the one before", shop.id)
            return oauth.refresh(self.http(shop), shop, previous)

    def _keep(self, conn: Connection, shop: Shop, grant: Grant, row: Any) -> None:
        """Store a grant as the shop's next token (sealed), if the row is still as it was read."""
        now = self.clock()
        values: dict[str, Any] = {
            "connect": shop.connect, "status": ConnectionStatus.CONNECTED, "error": None,
            "scope": grant.scope,
            "access_token": self.sealer.seal(grant.access_token), "renewing_until": None,
            "expires_at": now + grant.expires_in if grant.expires_in else None,
            "renew_at": renew_at(now, grant.expires_in), "updated_at": now,
            "generation": (row.generation if row is not None else 0) + 1}
        if grant.refresh_token:
            life = grant.refresh_expires_in
            values.update(refresh_token=self.sealer.seal(grant.refresh_token),
                          refresh_expires_at=now + life if life else None,
                          previous_refresh_token=row.refresh_token if row is not None else None)
        if row is None:
            conn.execute(table.insert().values(shop=shop.id, **values))
        else:
            conn.execute(update(table).where(table.c.shop == shop.id, table.c.generation == row.generation)
                         .values(**values))

    def installed(self, shop: Shop, grant: Grant) -> None:
        """An install's grant: the shop is connected with it, and what waited runs now."""
        with self.db.write() as conn:
            row = conn.execute(select(table).where(table.c.shop == shop.id)).first()
            self._keep(conn, shop, grant, row)
            self.queue.wake_shop(conn, shop.id, WAITING_KINDS, self.clock())

    def reconnect(self, shop: Shop) -> Token:
        """`certhook shopify connect` for a client-credentials shop: a refusal or an uninstall
        is forgotten and a new token taken now; what waited runs."""
        with self.db.write() as conn:
            conn.execute(update(table).where(table.c.shop == shop.id).values(
                status=ConnectionStatus.CONNECTED, error=None, renew_at=self.clock(),
                renewing_until=None))
            self.queue.wake_shop(conn, shop.id, WAITING_KINDS, self.clock())
        return self.token(shop)

    def retry_refused(self) -> None:
        """At start: client-credentials shops Shopify refused try once more (the settings may
        have been fixed), and what waited for them runs."""
        now = self.clock()
        with self.db.write() as conn:
            for shop in self.settings.shops:
                if shop.connect == CLIENT_CREDENTIALS and conn.execute(update(table).where(
                        table.c.shop == shop.id, table.c.status == ConnectionStatus.REFUSED
                ).values(status=ConnectionStatus.CONNECTED, error=None, renew_at=now)).rowcount:
                    self.queue.wake_shop(conn, shop.id, WAITING_KINDS, now)

    def why(self, shop: Shop, row: Any) -> str:
        """What the merchant reads while a shop is not connected, and what to do."""
        how = "run certhook shopify connect" if shop.connect == CLIENT_CREDENTIALS else \
            f"open {self.install_url(shop)}"
        if row is None:
            return f"{shop.id} is not connected yet: to connect it, {how}"
        return f"{row.error or shop.id + ' is not connected'}; to connect it again, {how}"


def disconnect(conn: Connection, shop: Shop, now: float, why: str) -> None:
    """The app was uninstalled: its tokens are dropped, and nothing calls the store until it is
    connected again."""
    values = {"status": ConnectionStatus.DISCONNECTED, "error": why, "access_token": None,
              "refresh_token": None, "previous_refresh_token": None, "renewing_until": None,
              "expires_at": None, "renew_at": None, "updated_at": now}
    if not conn.execute(update(table).where(table.c.shop == shop.id)
                        .values(generation=table.c.generation + 1, **values)).rowcount:
        conn.execute(table.insert().values(shop=shop.id, connect=shop.connect, scope="",
                                           generation=1, **values))
