"""`certhook serve` as a real process under gunicorn: oversized chunked bodies, and kill -9."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from certhook.db import Database
from certhook.evaluation import external_unique_id
from certhook.models import deliveries, jobs, orders

from .helpers import (
    AUTH,
    RECURRING,
    Serve,
    deliver,
    free_port,
    healthy,
    make_ch,
    order_of,
    order_payload,
    signed_shopify,
    wait_for,
    write_config,
)


@pytest.fixture
def serve(tmp_path: Path, db_url: str, fake_dots, fake_shopify) -> Iterator[Serve]:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                          retry_base_seconds=0.2, retry_max_seconds=1, lease_seconds=3,
                          max_attempts=50)
    server = Serve(config)
    server.start()
    yield server
    server.stop()


def counts(db_url: str) -> tuple[int, ...]:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return (conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                    conn.execute(select(func.count()).select_from(jobs)
                                 .where(jobs.c.kind.not_in(RECURRING))
                                 ).scalar_one(),
                    conn.execute(select(func.count()).select_from(deliveries)).scalar_one())
    finally:
        db.dispose()


def post_chunked(url: str, body: bytes, headers: dict[str, str]) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    conn.request("POST", "/webhooks/shopify", body=chunks, headers=headers, encode_chunked=True)
    status = conn.getresponse().status
    conn.close()
    return status


def test_two_mib_plain_and_chunked_get_413_under_gunicorn(serve: Serve, db_url: str):
    big = json.dumps({**order_payload(), "note": "x" * (2 * 1024 * 1024)}).encode()
    body, headers = signed_shopify(big)
    assert requests.post(f"{serve.url}/webhooks/shopify", data=body, headers=headers).status_code == 413
    assert post_chunked(serve.url, body, headers) == 413
    assert counts(db_url) == (0, 0, 0)
    # A chunked body under the limit is read whole, not cut short.
    small, headers = signed_shopify(order_payload())
    assert post_chunked(serve.url, small, headers) == 200
    assert counts(db_url)[0] == 1


def accept(url: str, ids: list[int]) -> None:
    for order_id in ids:
        body, headers = signed_shopify(order_payload(order_id=order_id))
        r = requests.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=5)
        assert r.json() == {"status": "accepted"}


def all_done(url: str, count: int) -> bool:
    r = requests.get(f"{url}/api/orders?per_page=100", headers=AUTH, timeout=5).json()
    return r["meta"]["total"] == count and all(o["status"] == "done" for o in r["data"])


def issued_once(fake_dots, fake_shopify, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    for order_id in ids:
        for alloc in (14, 32):
            assert fake_dots.count_for(external_unique_id("acme", str(order_id), alloc)) == 1
        assert len(fake_shopify.value(str(order_id))) == 2
    assert len(fake_dots.certificates) == 2 * len(ids)


def test_kill_9_while_calls_are_in_flight_then_a_restart_is_done_within_a_lease(serve: Serve, fake_dots,
                                                                                fake_shopify):
    fake_dots.slow_seconds = 2.0  # each certificate is created, then answered 2 s later
    ids = list(range(7001, 7007))
    accept(serve.url, ids)
    wait_for(lambda: fake_dots.posts >= 3, 30)
    serve.kill9()
    in_flight = fake_dots.posts
    fake_dots.slow_seconds = 0
    restarted = time.monotonic()
    serve.start()
    # lease_seconds (3) + 10 s, from the restart: the dead process's leases ran out meanwhile
    wait_for(lambda: all_done(serve.url, len(ids)), 3 + 10 - (time.monotonic() - restarted))
    issued_once(fake_dots, fake_shopify, ids)
    assert in_flight >= 3
    assert fake_dots.gets >= 3  # the interrupted ones were looked up and adopted, not posted again


def test_sigterm_mid_call_hands_the_jobs_back_so_a_restart_takes_them_at_once(
        tmp_path: Path, db_url: str, fake_dots, fake_shopify):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                          lease_seconds=300, retry_base_seconds=0.2, retry_max_seconds=1)
    server = Serve(config, None, "--graceful-timeout", "5")  # jobs get 2 s of it
    server.start()
    try:
        fake_dots.slow_seconds = 8  # longer than the grace: the calls are cut short
        ids = list(range(7101, 7105))
        accept(server.url, ids)
        wait_for(lambda: fake_dots.posts >= 2, 30)
        server.stop()
        assert server.proc is not None and server.proc.returncode == 0
        fake_dots.slow_seconds = 0
        server.start()
        wait_for(lambda: all_done(server.url, len(ids)), 60)  # far sooner than the 300 s lease
    finally:
        server.stop()
    issued_once(fake_dots, fake_shopify, ids)
    log = (tmp_path / "serve.log").read_text()
    assert "handed back" in log


def test_ten_concurrent_deliveries_to_the_real_server(serve: Serve, fake_dots):
    from concurrent.futures import ThreadPoolExecutor

    body, headers = signed_shopify(order_payload(order_id=8001))
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: requests.post(
            f"{serve.url}/webhooks/shopify", data=body, headers=headers, timeout=10).json()["status"],
            range(10)))
    assert sorted(answers) == ["accepted"] + ["duplicate"] * 9
    wait_for(lambda: requests.get(f"{serve.url}/api/orders/acme/8001", headers=AUTH,
                                  timeout=5).json()["status"] == "done", 30)
    assert len(fake_dots.certificates) == 2


def test_certhook_worker_runs_jobs_and_stops_on_sigterm(tmp_path: Path, db_url: str, fake_dots,
                                                        fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (ch, client):
        assert deliver(client, order_payload(order_id=9001)).json == {"status": "accepted"}
    proc = subprocess.Popen([sys.executable, "-m", "certhook", "worker", "--config",
                             str(tmp_path / "certhook.yaml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: fake_shopify.value("9001") is not None, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert len(fake_dots.certificates) == 2


def test_plain_gunicorn_with_the_deploy_config(tmp_path: Path, db_url: str, fake_dots, fake_shopify):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url)
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CERTHOOK_CONFIG": str(config), "CERTHOOK_BIND": f"127.0.0.1:{port}",
           "CERTHOOK_WEB_WORKERS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                             "wsgi:app"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(url), 30)
        body, headers = signed_shopify(order_payload(order_id=9101))
        assert requests.post(f"{url}/webhooks/shopify", data=body, headers=headers).json() == {
            "status": "accepted"}
        wait_for(lambda: fake_shopify.value("9101") is not None, 30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_four_worker_processes_one_killed_mid_run_issue_every_order_once(tmp_path: Path, db_url: str,
                                                                        fake_dots, fake_shopify):
    ids = list(range(9201, 9241))
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, lease_seconds=3, workers=4) as (ch, client):
        ch.clock.now = None  # the wall clock, which the worker processes read too
        for order_id in ids:
            assert deliver(client, order_payload(order_id=order_id)).json == {"status": "accepted"}
        fake_dots.slow_seconds = 0.3
        config = str(tmp_path / "certhook.yaml")
        procs = [subprocess.Popen([sys.executable, "-m", "certhook", "worker", "--config", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True) for _ in range(4)]
        try:
            # All four started (the one to be killed too: the others may be busy before it is)
            wait_for(lambda: client.get("/healthz").json["processes"]["alive"] == 4, 60)
            wait_for(lambda: fake_dots.posts >= 20, 60)
            os.killpg(procs[0].pid, signal.SIGKILL)  # mid-run, calls in flight
            procs[0].wait(10)
            wait_for(lambda: all(order_of(client, i)["status"] == "done" for i in ids), 120)
            # The dead one is named by /healthz once its heartbeat is a lease old.
            wait_for(lambda: client.get("/healthz").json["processes"]["heartbeat_stopped"], 20)
            [dead] = client.get("/healthz").json["processes"]["heartbeat_stopped"]
            assert dead["id"].split(":")[1] == str(procs[0].pid)
            assert client.get("/healthz").json["processes"]["alive"] == 3
        finally:
            for proc in procs[1:]:
                proc.send_signal(signal.SIGTERM)
            for proc in procs[1:]:
                assert proc.wait(30) == 0
    for order_id in ids:
        for alloc in (14, 32):
            assert fake_dots.count_for(external_unique_id("acme", str(order_id), alloc)) == 1
    assert len(fake_dots.certificates) == 2 * len(ids)


def job_runners(serve: Serve) -> list[int]:
    """The pids of serve's job runner (a `certhook worker` child of its master)."""
    assert serve.proc is not None
    children = subprocess.run(["pgrep", "-P", str(serve.proc.pid)], capture_output=True, text=True).stdout
    found = []
    for pid in children.split():
        try:
            if b"\0worker\0" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except FileNotFoundError:  # gone meanwhile
            continue
    return found


def test_a_job_runner_that_dies_is_started_again(serve: Serve, fake_dots, fake_shopify):
    log = Path(serve.config).parent / "serve.log"
    wait_for(lambda: len(job_runners(serve)) == 1, 10)
    [first] = job_runners(serve)
    os.kill(first, signal.SIGKILL)
    try:
        wait_for(lambda: job_runners(serve) not in ([], [first]), 20)  # after 5 s
        accept(serve.url, [7301])
        wait_for(lambda: all_done(serve.url, 1), 30)
    except AssertionError:
        raise AssertionError(f"{job_runners(serve)}: {log.read_text()[-2500:]}") from None
    issued_once(fake_dots, fake_shopify, [7301])
    assert "exited" in log.read_text()
