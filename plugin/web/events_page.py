"""The dashboard's Events page: per events endpoint, its recent deliveries (status, tries, the
last answer's code and first 200 characters), a Retry for a failed one, and Enable for an
endpoint a 410 disabled. Its routes hang on the dashboard's blueprint: the same sign-in, CSRF
check and error pages."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from ..outbox import manage
from ..statuses import EventStatus
from .dashboard import _ch, bp


@bp.get("/events")
def events():  # type: ignore[no-untyped-def]
    ch = _ch()
    with ch.db.read() as conn:
        endpoints = manage.summaries(ch, conn)
    return render_template("events.html", endpoints=endpoints, failed=EventStatus.FAILED)


@bp.post("/events/<int:row_id>/retry")
def retry_event(row_id: int):  # type: ignore[no-untyped-def]
    if not manage.retry(_ch(), row_id):
        abort(404, "no such failed event")
    flash("The event is queued again, with the same id and body.")
    return redirect(url_for("dashboard.events"))


@bp.post("/events/enable/<key>")
def enable_endpoint(key: str):  # type: ignore[no-untyped-def]
    endpoint = next((e for e in _ch().settings.events if e.key == key), None)
    if endpoint is None:
        abort(404, "no such endpoint in the settings")
    manage.enable(_ch(), endpoint)
    flash(f"{endpoint.url} is enabled: new events are sent to it again.")
    return redirect(url_for("dashboard.events"))
