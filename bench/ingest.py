"""Webhook ingest: `certhook serve` against two baselines under the same gunicorn settings.

- bare Flask: answers {"status": "accepted"} and keeps nothing;
- a do-it-yourself durable receiver: verifies the signature, INSERTs the body into SQLite (WAL),
  commits, answers;
- `certhook serve` with its default settings (its one job runner on top, evaluating each order).

Every request is a distinct signed Shopify orders/paid body of about 12 KB (the dev store's
sample order with eight lines). The three run with the same gunicorn settings and number of web
processes, alternating (bare, receiver, certhook, then again), each on a fresh database.

Each run measures, with an open-loop client (bench/loadgen.py) at a steady --rate req/s for 10 s,
p50/p99 timed from when each request was due; then, with wrk and 32 keep-alive connections,
the throughput, p50/p99 and CPU per request (web processes, job runner) at saturation; and the
largest RSS of each process of the server.

    python bench/ingest.py [--seconds 5] [--web-workers 2] [--rate 150]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from loadgen import bodies, free_port, process_tree_cpu, process_tree_rss, wait_healthy  # noqa: E402

SECRET = "bench-webhook-secret"
WRK_SCRIPT = Path(__file__).with_name("signed.lua")


BARE, DIY, CERTHOOK = "bare Flask", "DIY receiver", "certhook serve"


def bare_app():  # type: ignore[no-untyped-def]
    from flask import Flask

    app = Flask("bare")

    @app.post("/webhooks/shopify")
    def ok():  # type: ignore[no-untyped-def]
        return {"status": "accepted"}

    @app.get("/healthz")
    def health():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    return app


def diy_app(database: str):  # type: ignore[no-untyped-def]
    """What a merchant might write by hand: verify, one INSERT, commit, answer."""
    import base64
    import hashlib
    import hmac
    import sqlite3
    import threading

    from flask import Flask, request

    app, local = Flask("diy"), threading.local()
    with sqlite3.connect(database) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY, body BLOB)")

    @app.post("/webhooks/shopify")
    def receive():  # type: ignore[no-untyped-def]
        body = request.get_data()
        mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(mac, request.headers.get("X-Shopify-Hmac-Sha256", "")):
            return {"error": "bad signature"}, 401
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(database, timeout=30)
            local.db.execute("PRAGMA synchronous=NORMAL")
        with local.db:
            local.db.execute("INSERT INTO webhooks (body) VALUES (?)", (body,))
        return {"status": "accepted"}

    @app.get("/healthz")
    def health():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    return app


def start(kind: str, port: int, tmp: Path, web_workers: int) -> subprocess.Popen[bytes]:
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    run = Path(tempfile.mkdtemp(dir=tmp))
    if kind != CERTHOOK:
        return subprocess.Popen([sys.executable, __file__, "--baseline", kind, str(port),
                                 str(run / "diy.db"), "--web-workers", str(web_workers)],
                                **quiet)  # type: ignore[call-overload]
    (run / "rules.yaml").write_text((ROOT / "examples" / "rules" / "acme.yaml").read_text())
    (run / "certhook.yaml").write_text(json.dumps({
        "database_url": f"sqlite:///{run / 'certhook.db'}", "secret_key": "bench-secret-key-0123456789",
        "admin_token": "bench-admin-token-0123456789",
        "shops": [{"id": "acme", "platform": "shopify", "domain": "acme.myshopify.com",
                   "webhook_secret": SECRET, "rules": "rules.yaml", "mode": "shadow"}]}))
    return subprocess.Popen([sys.executable, "-m", "certhook", "serve", "--config",
                             str(run / "certhook.yaml"), "--bind", f"127.0.0.1:{port}",
                             "--web-workers", str(web_workers)],
                            cwd=ROOT, **quiet)  # type: ignore[call-overload]


def wrk(port: int, requests_file: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(WRK_SCRIPT),
                          f"http://127.0.0.1:{port}", "--", str(requests_file)],
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    return json.loads(line[5:])


def open_loop(port: int, rate: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("loadgen.py")), str(port), str(rate),
                          str(rate * 10), "5000000", SECRET], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run(kind: str, port: int, tmp: Path, args: argparse.Namespace, requests_file: Path) -> dict[str, float]:
    proc = start(kind, port, tmp, args.web_workers)
    peak: dict[int, tuple[str, int]] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(proc.pid, peak, stop), daemon=True)
    try:
        wait_healthy(port, proc)
        sampler.start()
        fixed = open_loop(port, args.rate)  # first: the job runner keeps pace at this rate
        before = process_tree_cpu(proc.pid)
        saturated = wrk(port, requests_file, args.seconds)
        after = process_tree_cpu(proc.pid)
    finally:
        stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    rss = sorted(peak.values(), key=lambda x: -x[1])
    # CPU per request at saturation: steadier from run to run than req/s on a shared machine
    cpu = {role: (after[role] - before.get(role, 0.0)) * 1000 / max(saturated["requests"], 1)
           for role in after if role != "master"}
    result = {**saturated, **{f"open_{k}": v for k, v in fixed.items()}, "web_cpu_ms": cpu.get("web", 0.0),
              "jobs_cpu_ms": cpu.get("jobs", 0.0), "rss_max_mb": rss[0][1] / 1024 if rss else 0,
              "processes": len(rss)}
    print(f"{kind:<14} {result['rps']:7.0f} req/s  p50 {result['p50_ms']:6.2f}  "
          f"p99 {result['p99_ms']:7.2f} ms"
          f"  | {args.rate}/s open loop: p50 {fixed['p50_ms']:6.2f}  p99 {fixed['p99_ms']:7.2f} ms"
          f"  | CPU ms/request: " + ", ".join(f"{role} {ms:.2f}" for role, ms in sorted(cpu.items()))
          + "  | RSS MB " + ", ".join(f"{name} {kb / 1024:.0f}" for name, kb in rss))
    return result


def _sample(pid: int, peak: dict[int, tuple[str, int]], stop: threading.Event) -> None:
    while not stop.wait(1):
        for child, (name, kb) in process_tree_rss(pid).items():
            if kb > peak.get(child, ("", 0))[1]:
                peak[child] = (name, kb)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=150)
    parser.add_argument("--baseline", nargs=3, help=argparse.SUPPRESS)  # KIND PORT DATABASE
    args = parser.parse_args()
    if args.baseline:
        from certhook.server import Server

        kind, port, database = args.baseline
        Server(bare_app if kind == BARE else lambda: diy_app(database),
               {"bind": f"127.0.0.1:{port}", "workers": args.web_workers, "loglevel": "warning"},
               with_jobs=False).run()
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        count = 8000 * args.seconds
        requests_file = tmp / "requests.txt"
        bodies(SECRET, count, 1_000_000, requests_file)
        print(f"{count} distinct signed orders/paid bodies of {requests_file.stat().st_size // count} bytes; "
              f"{args.web_workers} gunicorn processes (gthread, 8 threads) each; {os.cpu_count()} cores")
        results: dict[str, list[dict[str, float]]] = {BARE: [], DIY: [], CERTHOOK: []}
        for kind in [BARE, DIY, CERTHOOK] * 2:
            results[kind].append(run(kind, free_port(), tmp, args, requests_file))
    report(results, args.rate)


def report(results: dict[str, list[dict[str, float]]], rate: int) -> None:
    def mean(kind: str, key: str) -> float:
        return sum(r[key] for r in results[kind]) / len(results[kind])

    for kind in results:
        print(f"{kind:<14} mean of its runs: {mean(kind, 'rps'):6.0f} req/s at saturation, "
              f"p50 {mean(kind, 'p50_ms'):.1f} / p99 {mean(kind, 'p99_ms'):.1f} ms; "
              f"at {rate}/s p50 {mean(kind, 'open_p50_ms'):.1f} / p99 {mean(kind, 'open_p99_ms'):.1f} ms; "
              f"web CPU {mean(kind, 'web_cpu_ms'):.2f} ms/request")
    print(f"certhook / bare Flask: {mean(CERTHOOK, 'rps') / mean(BARE, 'rps'):.2f}; "
          f"certhook / DIY receiver: {mean(CERTHOOK, 'rps') / mean(DIY, 'rps'):.2f} (throughput)")
    print(f"certhook: worst run {min(r['rps'] for r in results[CERTHOOK]):.0f} req/s (bar: 500); "
          f"at {rate}/s p99 {max(r['open_p99_ms'] for r in results[CERTHOOK]):.1f} ms worst run (bar: 50); "
          f"job runner {mean(CERTHOOK, 'jobs_cpu_ms'):.2f} ms CPU/request; largest process "
          f"{max(r['rss_max_mb'] for r in results[CERTHOOK]):.0f} MB (bar: 80)")


if __name__ == "__main__":
    main()
