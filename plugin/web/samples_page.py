"""The dashboard's first steps: "Send sample orders" for a shop in shadow mode. The samples are
certhook demo's, sent through certhook's own webhook door in process (the same door, signature
check and all, without the network). Its route hangs on the dashboard's blueprint."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, url_for

from ..demo import NotShadow, samples
from .dashboard import _ch, bp

COUNT = 3


@bp.post("/samples/<shop_id>")
def send_samples(shop_id: str):  # type: ignore[no-untyped-def]
    ch = _ch()
    shop = ch.shop(shop_id)
    if shop is None:
        abort(404, "no such shop")
    try:
        sent = samples(shop, ch.rules[shop.id], COUNT)
    except NotShadow as exc:
        abort(400, str(exc))
    door = current_app.test_client()
    accepted = sum(door.post(s.path, data=s.body, headers=s.headers).status_code == 200 for s in sent)
    flash(f"{accepted} sample order{'s' if accepted != 1 else ''} sent to {shop.id}: each shows what "
          "it would earn once evaluated (a moment).")
    return redirect(url_for("dashboard.orders", shop=shop.id))
