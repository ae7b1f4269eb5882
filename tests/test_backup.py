"""certhook backup PATH while webhooks arrive; the copy, restored, holds every order answered
before the backup began, with its certificates. PostgreSQL is pointed to pg_dump."""
from __future__ import annotations

import threading
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from certhook import create_app
from certhook.cli import main
from certhook.models import items, orders

from .helpers import deliver, drain, make_ch, order_payload, start, write_config


def test_a_backup_taken_while_webhooks_arrive_restores_every_order_answered_before_it(
        tmp_path: Path, fake_dots, fake_shopify):
    live = tmp_path / "live"
    live.mkdir()
    with make_ch(live, f"sqlite:///{live / 'certhook.db'}", fake_dots, fake_shopify) as (ch, client):
        for order_id in range(1, 21):
            assert deliver(client, order_payload(order_id=order_id)).json == {"status": "accepted"}
        drain(ch)
        stop, later, answers = threading.Event(), create_app(ch=ch).test_client(), []

        def arrive() -> None:  # more webhooks, all through the backup
            order_id = 100
            while not stop.is_set():
                order_id += 1
                answers.append(deliver(later, order_payload(order_id=order_id)).status_code)

        arriving = threading.Thread(target=arrive)
        arriving.start()
        try:
            result = CliRunner().invoke(main, ["backup", "--config", str(live / "certhook.yaml"),
                                               str(tmp_path / "copy.db")])
        finally:
            stop.set()
            arriving.join(10)
        assert result.exit_code == 0, result.output
        assert "backed up" in result.output and answers and set(answers) == {200}
    restored = tmp_path / "restored"
    restored.mkdir()
    (tmp_path / "copy.db").rename(restored / "certhook.db")
    config = write_config(restored, f"sqlite:///{restored / 'certhook.db'}", fake_dots.api_url,
                          fake_shopify.api_url)
    again = start(config)
    try:
        with again.db.read() as conn:
            found = set(conn.execute(select(orders.c.order_id)).scalars())
            issued = conn.execute(select(items.c.order_pk).where(items.c.status == "issued")).all()
        assert {str(i) for i in range(1, 21)} <= found
        assert len(issued) == 2 * 20  # each of the 20 with its two certificates
    finally:
        again.close()


def test_a_backup_is_private_and_follows_no_planted_symlink(tmp_path: Path, fake_dots, fake_shopify):
    victim = tmp_path / "victim.txt"
    victim.write_text("not a database")
    (tmp_path / ".copy.db.partial").symlink_to(victim)  # the temporary name older versions used
    with make_ch(tmp_path, f"sqlite:///{tmp_path / 'certhook.db'}", fake_dots, fake_shopify) as (ch, client):
        deliver(client, order_payload(order_id=1))
        result = CliRunner().invoke(main, ["backup", "--config", str(tmp_path / "certhook.yaml"),
                                           str(tmp_path / "copy.db")])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "not a database"
    assert (tmp_path / "copy.db").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".copy.db.*.partial"))  # nothing left behind


def test_postgresql_is_sent_to_pg_dump(tmp_path: Path):
    config = write_config(tmp_path, "postgresql+psycopg://u:p@localhost/certhook", "http://d", "http://s")
    result = CliRunner().invoke(main, ["backup", "--config", str(config), str(tmp_path / "x.db")])
    assert result.exit_code == 1 and "pg_dump" in result.output
