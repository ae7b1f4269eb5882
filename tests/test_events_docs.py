"""docs/events.md's receiver, run as written against certhook: it verifies what certhook sends,
handles a retry of an event once, and refuses an event it can't verify."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from certhook.models import outbox
from certhook.outbox import manage

from .fakes.receiver import SECRET
from .helpers import deliver, drain, make_ch, order_of, order_payload, outbox_rows, send_events

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"


@pytest.fixture
def docs_receiver(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    monkeypatch.setenv("CERTHOOK_EVENTS_SECRET", SECRET)
    scope: dict[str, object] = {"__name__": "receiver_example"}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102  (the documented example, as written)
    server = make_server("127.0.0.1", 0, scope["app"], threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/certhook"
    server.shutdown()


def test_the_documented_receiver_verifies_and_handles_each_event_once(tmp_path, db_url, fake_dots,
                                                                      fake_shopify, docs_receiver, capfd):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify,
                 events=[{"url": docs_receiver, "secret": SECRET}]) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
        [row] = outbox_rows(ch)
        assert (row.status, row.last_code) == ("delivered", 204)
        with ch.db.write() as conn:  # as if its answer had been lost: sent again, the same id
            conn.execute(outbox.update().values(status="failed"))
        assert manage.retry(ch, row.id)
        send_events(ch)
        [again] = outbox_rows(ch)
        assert (again.status, again.attempts, again.message_id) == ("delivered", 2, row.message_id)
        order = order_of(client)
    printed = capfd.readouterr().out.splitlines()
    urls = [c["certificate_url"] for c in order["certificates"]]
    assert [line for line in printed if line.startswith(order["order_name"])] == \
        [f"{order['order_name']} {c['impact_qty']} {c['certificate_url']}" for c in order["certificates"]]
    assert all(urls)
    forged = requests.post(docs_receiver, data=row.body, headers={
        "webhook-id": row.message_id, "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}, timeout=5)
    assert forged.status_code == 401
