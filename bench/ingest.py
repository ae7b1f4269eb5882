"""Webhook ingest: `certhook serve` against a bare Flask app under the same gunicorn settings.

Every request is a distinct signed Shopify orders/paid body of about 12 KB (the dev store's
sample order with eight lines). Both servers run with the same gunicorn settings and number of
web processes (certhook's one job runner comes on top, as `certhook serve` runs it); the runs
alternate bare, certhook, bare, certhook, each on a fresh database.

Each run measures, with an open-loop client (bench/loadgen.py) at a fixed 500 req/s for 10 s,
p50/p99 timed from when each request was due; then, with wrk and 32 keep-alive connections,
the throughput, p50/p99 and CPU per request (web processes, job runner) at saturation; and the
largest RSS of each process of the server.

    python bench/ingest.py [--seconds 5] [--web-workers 2] [--rate 500]
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


def start(kind: str, port: int, tmp: Path, web_workers: int) -> subprocess.Popen[bytes]:
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    if kind == "bare Flask":
        return subprocess.Popen([sys.executable, __file__, "--bare", str(port),
                                 "--web-workers", str(web_workers)], **quiet)  # type: ignore[call-overload]
    run = Path(tempfile.mkdtemp(dir=tmp))
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
    print(f"{kind:<15} {result['rps']:7.0f} req/s  p50 {result['p50_ms']:6.2f}  "
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
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        from certhook.server import Server

        Server(bare_app, {"bind": f"127.0.0.1:{args.bare}", "workers": args.web_workers,
                          "loglevel": "warning"}, with_jobs=False).run()
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
        results: dict[str, list[dict[str, float]]] = {"bare Flask": [], "certhook serve": []}
        for kind in ["bare Flask", "certhook serve"] * 2:
            results[kind].append(run(kind, free_port(), tmp, args, requests_file))
    bare, ours = results["bare Flask"], results["certhook serve"]
    ratio = sum(r["rps"] for r in ours) / sum(r["rps"] for r in bare)
    print(f"ratio certhook/bare (throughput, both runs): {ratio:.2f}")
    print(f"web processes' CPU per request at saturation: certhook "
          f"{sum(r['web_cpu_ms'] for r in ours) / len(ours):.2f} ms, bare Flask "
          f"{sum(r['web_cpu_ms'] for r in bare) / len(bare):.2f} ms; certhook's job runner "
          f"{sum(r['jobs_cpu_ms'] for r in ours) / len(ours):.2f} ms")
    print(f"certhook at {args.rate} req/s: p99 {max(r['open_p99_ms'] for r in ours):.2f} ms (worst run); "
          f"largest process {max(r['rss_max_mb'] for r in ours):.0f} MB")


if __name__ == "__main__":
    main()
