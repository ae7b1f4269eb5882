"""deploy/README.md's way to PostgreSQL, step by step, as a fresh machine would take it: the example
settings with secrets from the environment, `certhook serve`, a separate `certhook worker`, a
webhook, and the order recorded and evaluated (shadow mode)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from .helpers import free_port, healthy, order_payload, signed_shopify, wait_for

ROOT = Path(__file__).resolve().parents[1]


def start(folder: Path, env: dict[str, str], command: list[str]) -> subprocess.Popen[bytes]:
    with open(folder / f"{command[0]}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "certhook", *command], cwd=folder, env=env,
                                stdout=log, stderr=log, start_new_session=True)


def test_postgres_with_a_separate_worker_following_the_deploy_guide(postgres_url: str, tmp_path: Path):
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # step 1: an empty database of its own
        conn.execute(text("DROP DATABASE IF EXISTS quickstart"))
        conn.execute(text("CREATE DATABASE quickstart"))
    engine.dispose()
    shutil.copy(ROOT / "examples" / "certhook.postgres.yaml", tmp_path / "certhook.yaml")  # step 2
    shutil.copytree(ROOT / "examples" / "rules", tmp_path / "rules")
    env = {**os.environ, "CERTHOOK_DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/quickstart",
           "CERTHOOK_SECRET_KEY": "k" * 32, "CERTHOOK_ADMIN_TOKEN": "a" * 32,
           "ACME_WEBHOOK_SECRET": "shpss_test_webhook_secret"}
    port = free_port()
    started = [start(tmp_path, env, command)  # step 3
               for command in (["serve", "--bind", f"127.0.0.1:{port}"], ["worker"])]
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer " + "a" * 32}
    try:
        wait_for(lambda: healthy(url), 30)
        body, headers = signed_shopify(order_payload(order_id=4711), secret=env["ACME_WEBHOOK_SECRET"])
        assert requests.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=5).json() == {
            "status": "accepted"}
        wait_for(lambda: requests.get(f"{url}/api/orders/acme/4711", headers=auth, timeout=5)
                 .json()["status"] == "skipped", 30)
        assert "shadow mode: would issue" in requests.get(
            f"{url}/api/orders/acme/4711", headers=auth, timeout=5).json()["reason"]
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).json()["processes"]["alive"] == 2,
                 30)  # serve's job runner and the worker
    finally:
        for proc in started:
            os.killpg(proc.pid, signal.SIGTERM)
        codes = [proc.wait(30) for proc in started]
    assert codes == [0, 0], [(tmp_path / f"{name}.log").read_text()[-1500:] for name in ("serve", "worker")]
