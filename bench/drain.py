"""How fast `certhook worker` processes drain a backlog of paid orders, against the bound.

The fake Dots.eco answers each certificate in --latency seconds (100 ms); every order earns one
certificate, so no worker can do better than one order per latency: the bound for P processes
of W workers is P × W ÷ latency orders per second. The fake Shopify that takes the write-backs
is not throttled here: the store's rate limit is not what this measures.

Every order costs the worker processes some CPU (the figure printed with each run), and the
database and the fakes some more: once that fills the machine's cores, more processes cannot
drain faster. On a 2-core machine, 4 processes of 8 workers are far past that; 4 of 2 are not: so
one process is measured with 1, 2, 4 and 8 workers (how close it comes to its bound as its
threads contend), and the processes' scaling with `--scale-workers` (2) workers each.

With --events, an events endpoint (a local receiver answering 200 at once) is set too: every
order also records `order.issued`, and the endpoint's job sends it beside the orders' jobs.

The workers start idle and take a few orders first (each process compiles its statements, and
on PostgreSQL prepares them per connection); then the orders arrive in one transaction (as a
burst of webhooks would), and the clock runs from that commit until every order is done.

    python bench/drain.py [--orders 50] [--workers 1,2,4,8] [--latency 0.1] [--processes 4]
                          [--scale-workers 2] [--events]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from certhook.context import build  # noqa: E402
from certhook.models import orders  # noqa: E402
from certhook.orders import Order  # noqa: E402
from certhook.platforms import ADAPTERS  # noqa: E402
from certhook.settings import load_settings  # noqa: E402
from certhook.statuses import OrderStatus  # noqa: E402
from certhook.store.orders import record_order  # noqa: E402
from tests.fakes.dots import FakeDots  # noqa: E402
from tests.fakes.receiver import SECRET, Receiver  # noqa: E402
from tests.fakes.shopify import FakeShopify  # noqa: E402
from tests.helpers import order_payload, write_config  # noqa: E402
from tests.pgcluster import cluster, pg_bin  # noqa: E402

WARM_UP = 5  # orders per worker before the clock starts: the first ones compile and prepare
RULES = "rules:\n  - name: A tree for every 25 spent\n    allocation_id: 32\n    per_amount: 25\n"


def backlog(count: int, first_id: int) -> list[Order]:
    shopify = ADAPTERS["shopify"]
    return [shopify.normalize("acme", order_payload(order_id=first_id + n)) for n in range(count)]


def done(ch, shop_orders: int) -> bool:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        finished = conn.execute(select(func.count()).select_from(orders).where(
            orders.c.status == OrderStatus.DONE)).scalar_one()
    return finished >= shop_orders


def drain(tmp: Path, db_url: str, processes: int, workers: int, args: argparse.Namespace) -> float:
    """Orders per second for `processes` worker processes of `workers` each, on a fresh database
    (args.orders per worker)."""
    with ExitStack() as stack:
        dots, shopify, receiver = FakeDots(), FakeShopify(), Receiver()
        for fake in (dots, shopify, receiver):
            stack.callback(fake.close)
        events = [{"url": receiver.url + "/hook", "secret": SECRET}] if args.events else []
        dots.slow_seconds = args.latency
        shopify.bucket_max = shopify.bucket = shopify.restore_rate = 1e12  # no throttle
        run = tmp / f"{processes}x{workers}-{'sqlite' if db_url.startswith('sqlite') else 'pg'}"
        run.mkdir()
        config = write_config(run, db_url, dots.api_url, shopify.api_url, rules=RULES,
                              workers=workers, lease_seconds=30, events=events)
        ch = build(load_settings(config))
        stack.callback(ch.close)
        ch.db.upgrade()
        count, warm = args.orders * processes * workers, WARM_UP * processes * workers
        procs = [subprocess.Popen([sys.executable, "-m", "certhook", "worker", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True) for _ in range(processes)]
        stack.callback(stop, procs)
        time.sleep(3)  # started and idle: the first reconciliation is done
        queue(ch, backlog(warm, 10_000), warm)  # each process compiles and prepares its statements
        burst, cpu0 = backlog(count, 100_000), cpu_seconds(procs)
        elapsed = queue(ch, burst, warm + count)
        cpu = (cpu_seconds(procs) - cpu0) / count * 1000
        assert len(dots.certificates) == warm + count, "each order once"
        sent = f"; {len(receiver.delivered())} events sent by then" if args.events else ""
        print(f"  ({count} orders; worker processes' CPU: {cpu:.1f} ms per order{sent})")
        return count / elapsed


def queue(ch, orders: list[Order], until_done: int) -> float:  # type: ignore[no-untyped-def]
    """Record the orders in one transaction, then wait until `until_done` orders are done: the
    seconds from the commit."""
    with ch.db.write() as conn:
        for order in orders:
            record_order(ch, conn, order.shop, order)
    committed = time.perf_counter()
    while not done(ch, until_done):
        time.sleep(0.01)
    return time.perf_counter() - committed


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """User and system CPU the processes have used (Linux's /proc)."""
    total = 0
    for proc in procs:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(30)


def report(label: str, rate: float, processes: int, workers: int, args: argparse.Namespace) -> None:
    bound = processes * workers / args.latency
    print(f"{label:<34} {rate:7.1f} orders/s   bound {bound:6.0f}/s   ratio {rate / bound:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=50, help="per worker")
    parser.add_argument("--workers", default="1,2,4,8", help="one process's workers, each run")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--scale-workers", type=int, default=2)
    parser.add_argument("--events", action="store_true", help="an events endpoint too")
    args = parser.parse_args()
    print(f"one certificate per order; Dots.eco answers in {args.latency * 1000:.0f} ms"
          + ("; an events endpoint is set" if args.events else ""))
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for workers in [int(w) for w in args.workers.split(",")]:
            rate = drain(tmp, f"sqlite:///{tmp / f'drain{workers}.db'}", 1, workers, args)
            report(f"SQLite, 1 process of {workers}", rate, 1, workers, args)
        bindir = pg_bin()
        if bindir is None:
            print("PostgreSQL is not installed: no multi-process figures")
            return
        rates = {}
        for processes in (1, args.processes):
            with cluster(bindir, "certhook_bench") as url:
                rates[processes] = drain(tmp, url, processes, args.scale_workers, args)
            report(f"PostgreSQL, {processes} x {args.scale_workers} workers", rates[processes], processes,
                   args.scale_workers, args)
        print(f"{args.processes} processes against 1, on PostgreSQL: "
              f"{rates[args.processes] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
