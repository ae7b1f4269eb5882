"""The merchant's dashboard: sign in with the admin token, orders, one order, impact over time."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import update

from .. import balance, budgets, links, onboarding, reports, tallies
from ..context import Certhook
from ..http import ApiError
from ..issuers import Item
from ..models import items
from ..statuses import ItemKind, ItemStatus, OrderStatus, WritebackStatus
from ..store.items import retry_order
from ..store.orders import find_order, items_of, list_orders
from .sessions import check_csrf, csrf_token, sign_in, sign_out, signed_in

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
PER_PAGE = 50
MAX_PAGE = 10**6  # the API's bound too: an offset the database can count
OPEN = {"dashboard.login", "dashboard.static"}
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2100, 12, 31)  # an impact period's bounds


def _ch() -> Certhook:
    return current_app.extensions["certhook"]


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "when": _when, "dots_balance": _balance}


def _balance() -> balance.Balance | None:
    with _ch().db.read() as conn:
        return balance.latest(conn, _ch().now())


bp.add_app_template_filter(links.http_url, "http_url")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else ""


@bp.before_request
def guard():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        check_csrf()
    if request.endpoint in OPEN or signed_in(_ch()):
        return None
    return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("dashboard.orders")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    code, wait = sign_in(_ch(), request.form.get("token", "").strip())
    if code == 200:
        return redirect(_safe_next(request.form.get("next")))
    error = f"Too many wrong tokens. Try again in {int(wait) + 1} s." if code == 429 \
        else "That is not the admin token."
    return render_template("login.html", next=request.form.get("next", ""), error=error), code


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    sign_out(_ch())
    return redirect(url_for("dashboard.login"))


@bp.get("/")
def orders():  # type: ignore[no-untyped-def]
    ch = _ch()
    shop = request.args.get("shop") or None
    status = request.args.get("status") or None
    if status not in {None, *OrderStatus}:
        status = None
    q = (request.args.get("q") or "").strip() or None
    try:
        page = min(max(int(request.args.get("page", 1)), 1), MAX_PAGE)
    except ValueError:
        page = 1
    with ch.db.read() as conn:
        rows, total = list_orders(conn, shop, status, q, page, PER_PAGE)
        attention = reports.attention(conn, ch.now(), ch.settings.shops, ch.connections.why)
        waiting = [(s, onboarding.steps(s, ch.settings.public_url))
                   for s in onboarding.waiting(conn, ch.settings.shops)]
    return render_template("orders.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), shop=shop,
                           status=status, q=q or "", shops=[s.id for s in ch.settings.shops],
                           statuses=list(OrderStatus), attention=attention, waiting=waiting)


CLAIMS_EVERY = 60.0


def _refresh_claims(ch: Certhook, rows: list[Any]) -> bool:
    """Ask Dots.eco how often each issued offering was claimed, at most once a minute each;
    True if any count was asked for."""
    offerings = ch.issuers.get(ItemKind.OFFERING)
    changed = False
    for row in rows:
        if offerings is None or row.kind != ItemKind.OFFERING or row.status != ItemStatus.ISSUED or \
                (row.claims_checked_at or 0) > ch.now() - CLAIMS_EVERY:
            continue
        try:
            found = offerings.find(Item.of(row))
        except ApiError:
            found = None  # the page shows the last count; the next visit asks again
        values: dict[str, Any] = {"claims_checked_at": ch.now()}
        if found is not None and found.claims is not None:
            values["claims"] = found.claims
        with ch.db.write() as conn:
            conn.execute(update(items).where(items.c.id == row.id).values(**values))
        changed = True
    return changed


@bp.get("/orders/<shop>/<order_id>")
def order(shop: str, order_id: str):  # type: ignore[no-untyped-def]
    ch = _ch()
    with ch.db.read() as conn:
        row = find_order(conn, shop, order_id)
        if row is None:
            abort(404, "no such order")
        found = items_of(conn, [row.id])[row.id]
    refreshed = _refresh_claims(ch, found)
    with ch.db.read() as conn:
        if refreshed:
            found = items_of(conn, [row.id])[row.id]
        timeline = reports.timeline(conn, row.id)
        attention = reports.attention(conn, ch.now(), ch.settings.shops, ch.connections.why)
    retryable = row.status == OrderStatus.FAILED or any(i.status == ItemStatus.FAILED for i in found) \
        or row.writeback_status == WritebackStatus.FAILED
    return render_template("order.html", order=row, items=found, timeline=timeline,
                           retryable=retryable, attention=attention, names=ch.names.cached(),
                           customer_url=links.customer_url(ch.settings, shop, order_id))


@bp.post("/orders/<shop>/<order_id>/retry")
def retry(shop: str, order_id: str):  # type: ignore[no-untyped-def]
    retried = retry_order(_ch(), shop, order_id)
    if retried is None:
        abort(404, "no such order")
    flash(f"Queued {retried} item(s) again." if retried else "Nothing to retry.")
    return redirect(url_for("dashboard.order", shop=shop, order_id=order_id))


def _period() -> tuple[date, date, str | None]:
    """[start, end) as dates from ?from=&to= (inclusive end date), the last 30 days by default."""
    today = datetime.now(UTC).date()
    try:
        end = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        start = date.fromisoformat(request.args["from"]) if request.args.get("from") \
            else end - timedelta(days=29)
    except ValueError:
        abort(400, "dates are YYYY-MM-DD")
    if not all(FIRST_DAY <= day <= LAST_DAY for day in (start, end)):
        abort(400, f"dates are from {FIRST_DAY} to {LAST_DAY}")
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=365))  # one chart bar a day, a year at most
    return start, end, request.args.get("shop") or None


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@bp.get("/impact")
def impact():  # type: ignore[no-untyped-def]
    ch = _ch()
    start, end, shop = _period()
    since, until = _epoch(start), _epoch(end + timedelta(days=1))
    with ch.db.read() as conn:
        totals = tallies.impact_totals(conn, since, until, shop)
        per_day = tallies.impact_per_day(conn, since, until, shop)
        cancelled = reports.issued_then_cancelled(conn, since, until, shop)
        caps = budgets.usage(conn, [s for s in ch.settings.shops if shop in (None, s.id)], ch.now())
        attention = reports.attention(conn, ch.now(), ch.settings.shops, ch.connections.why)
    days = [(start + timedelta(days=n)) for n in range((end - start).days + 1)]
    bars = [(d, per_day.get(int(_epoch(d) // 86400), 0)) for d in days]
    return render_template("impact.html", totals=totals, bars=bars, peak=max([q for _, q in bars] + [1]),
                           start=start, end=end, shop=shop, shops=[s.id for s in ch.settings.shops],
                           attention=attention, cancelled=cancelled, caps=caps)


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: never a formula (= + - @, tab, CR first)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/impact.csv")
def impact_csv():  # type: ignore[no-untyped-def]
    ch = _ch()
    start, end, shop = _period()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["issued_at", "shop", "order_id", "order_name", "kind", "issuer", "allocation_id",
                     "list_id", "impact", "impact_qty", "certificate_id", "certificate_url"])
    with ch.db.read() as conn:
        for r in reports.issued_rows(conn, _epoch(start), _epoch(end + timedelta(days=1)), shop):
            writer.writerow([cell(v) for v in (
                _when(r.issued_at), r.shop, r.order_id, r.order_name, r.kind, r.issuer, r.allocation_id,
                r.list_id, r.impact or "", r.impact_qty, r.certificate_id, r.certificate_url)])
    name = f"certificates-{start}-to-{end}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
