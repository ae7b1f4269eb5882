"""GET /metrics: Prometheus's text format, read from the database on every scrape, so every
process answers the same. It needs `metrics_token` as a Bearer token (wrong ones are throttled
like the API's); without one set it is 404.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, and_, func, or_, select
from werkzeug.exceptions import TooManyRequests

from .. import budgets
from ..context import Certhook
from ..models import deliveries, items, jobs, orders, reconciliations, shop_connections
from ..outbox import manage
from ..statuses import ConnectionStatus, ItemStatus, JobStatus, OrderStatus
from . import throttle

bp = Blueprint("metrics", __name__)
OUTCOMES = ("accepted", "duplicate", "ignored")


def _counts(conn: Connection, *columns: Any) -> dict[tuple[str, ...], int]:
    rows = conn.execute(select(*columns, func.count()).group_by(*columns))
    return {tuple(str(v) for v in row[:-1]): row[-1] for row in rows}


def _orders(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_orders", "Orders by shop and status.",
                               labels=["shop", "status"])
    counts = _counts(conn, orders.c.shop, orders.c.status)
    shops = sorted({s.id for s in ch.settings.shops} | {shop for shop, _ in counts})
    for shop in shops:
        for status in OrderStatus:
            family.add_metric([shop, status.value], counts.get((shop, status.value), 0))
    return family


def _items(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_items", "Certificates, offerings and CertFusion "
                               "certificates by issuer, kind and status.",
                               labels=["issuer", "kind", "status"])
    counts = _counts(conn, items.c.issuer, items.c.kind, items.c.status)
    known = {(issuer.name.value, kind.value) for kind, issuer in ch.issuers.items()}
    for issuer, kind in sorted(known | {(i, k) for i, k, _ in counts}):
        for status in ItemStatus:
            family.add_metric([issuer, kind, status.value], counts.get((issuer, kind, status.value), 0))
    return family


def _jobs(conn: Connection, now: float) -> Iterator[Metric]:
    due = or_(and_(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= now),
              and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_expires < now))
    count, oldest = conn.execute(select(func.count(), func.min(jobs.c.run_at)).where(due)).one()
    yield GaugeMetricFamily("certhook_jobs_due", "Jobs due now and not running.", value=count)
    yield GaugeMetricFamily("certhook_oldest_due_job_age_seconds",
                            "How long the oldest due job has waited (0 when none).",
                            value=max(now - oldest, 0) if oldest is not None else 0)


def _webhooks(ch: Certhook, conn: Connection) -> Metric:
    family = CounterMetricFamily("certhook_webhooks_received", "Authenticated webhook "
                                 "deliveries by shop and outcome.", labels=["shop", "outcome"])
    counts = _counts(conn, deliveries.c.shop, deliveries.c.outcome)
    shops = sorted({s.id for s in ch.settings.shops} | {shop for shop, _ in counts})
    for shop in shops:
        for outcome in sorted(set(OUTCOMES) | {o for s, o in counts if s == shop}):
            family.add_metric([shop, outcome], counts.get((shop, outcome), 0))
    return family


def _reconciled(conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_reconcile_last_success_timestamp_seconds",
                               "When each shop's last reconciliation succeeded (Unix time).",
                               labels=["shop"])
    for row in conn.execute(select(reconciliations.c.shop, reconciliations.c.last_success_at)
                            .where(reconciliations.c.last_success_at.is_not(None))
                            .order_by(reconciliations.c.shop)):
        family.add_metric([row.shop], row.last_success_at)
    return family


def _balance(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_out_of_balance", "1 while items wait for the issuer's "
                               "account to be topped up.", labels=["issuer"])
    waiting = {issuer for (issuer,) in conn.execute(
        select(items.c.issuer).where(items.c.status == ItemStatus.PENDING,
                                     items.c.error.like("%out of balance%")).distinct())}
    for issuer in sorted({issuer.name.value for issuer in ch.issuers.values()}):
        family.add_metric([issuer], 1 if issuer in waiting else 0)
    return family


def _budgets(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_budget_used_ratio", "Share of a monthly budget used "
                               "this month, by shop and target.", labels=["shop", "target"])
    for shop, name, taken, cap in budgets.usage(conn, list(ch.settings.shops), ch.now()):
        family.add_metric([shop.id, name], taken / cap if cap else 1.0)
    return family


def _connected(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_shop_connected", "1 while certhook can call the shop's "
                               "store; 0 while disconnected or without a working token.",
                               labels=["shop"])
    working = {r.shop for r in conn.execute(select(shop_connections.c.shop).where(
        shop_connections.c.status == ConnectionStatus.CONNECTED,
        shop_connections.c.access_token.is_not(None)))}
    for shop in sorted(ch.settings.shops, key=lambda s: s.id):
        up = shop.id in working if shop.client_id else shop.has_api_credentials
        family.add_metric([shop.id], 1 if up else 0)
    return family


def _events(ch: Certhook, conn: Connection) -> Metric:
    family = GaugeMetricFamily("certhook_events_pending", "Events recorded and not yet delivered "
                               "(nor given up), by endpoint URL.", labels=["endpoint"])
    waiting = manage.pending(conn)
    for url in sorted({e.url for e in ch.settings.events} | set(waiting)):
        family.add_metric([url], waiting.get(url, 0))
    return family


class FromDatabase(Collector):
    def __init__(self, ch: Certhook):
        self.ch = ch

    def collect(self) -> Iterator[Metric]:
        with self.ch.db.read() as conn:
            yield _orders(self.ch, conn)
            yield _items(self.ch, conn)
            yield from _jobs(conn, self.ch.now())
            yield _webhooks(self.ch, conn)
            yield _budgets(self.ch, conn)
            yield _reconciled(conn)
            yield _balance(self.ch, conn)
            yield _connected(self.ch, conn)
            yield _events(self.ch, conn)
            yield _auth_failures(conn)


def _auth_failures(conn: Connection) -> Metric:
    family = CounterMetricFamily("certhook_auth_failures", "Wrong tokens, by where they were "
                                 "tried (dashboard, api, metrics).", labels=["surface"])
    for surface, count in throttle.failures(conn).items():
        family.add_metric([surface], count)
    return family


@bp.get("/metrics")
def metrics() -> Response:
    ch: Certhook = current_app.extensions["certhook"]
    if not ch.settings.metrics_token:
        abort(404)
    guard, client = throttle.Throttle(ch.db, "metrics"), request.remote_addr or "?"
    wait = guard.wait(client, ch.now())
    if wait > 0:
        raise TooManyRequests("too many wrong tokens: wait and try again", retry_after=int(wait) + 1)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {ch.settings.metrics_token}".encode()):
        guard.failed(client, ch.now())
        abort(401, "a valid bearer token is required")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FromDatabase(ch))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
