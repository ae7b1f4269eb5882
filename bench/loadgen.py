"""What the ingest benchmark shares: signed bodies, an open-loop client, servers' RSS."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pgcluster import free_port  # noqa: E402,F401  (the benchmark's servers' ports)

SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "orders_paid__dev_store.json"
Request = tuple[bytes, dict[str, str]]


def order_body(order_id: int) -> bytes:
    """The dev store's sample order with eight lines (about 12 KB), as order `order_id`."""
    order = json.loads(SAMPLE.read_text()) if not _CACHE else _CACHE[0]
    _CACHE[:] = [order]
    line = order["line_items"][0]
    lines = [{**line, "id": line["id"] + n, "title": f"{line['title']} {n}"} for n in range(8)]
    return json.dumps({**order, "id": order_id, "name": f"#{order_id}", "order_number": order_id,
                       "line_items": lines}).encode()


_CACHE: list[dict] = []


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def bodies(secret: str, count: int, first_id: int, path: Path | None = None) -> list[Request]:
    """`count` distinct signed orders/paid requests; written to `path` as wrk reads them
    (signature TAB body per line) instead of returned, if given."""
    out: list[Request] = []
    with open(path, "wb") if path else open("/dev/null", "wb") as file:
        for n in range(count):
            body = order_body(first_id + n)
            if path:
                file.write(sign(secret, body).encode() + b"\t" + body + b"\n")
            else:
                out.append((body, {"Content-Type": "application/json", "X-Shopify-Topic": "orders/paid",
                                   "X-Shopify-Shop-Domain": "acme.myshopify.com",
                                   "X-Shopify-Hmac-Sha256": sign(secret, body)}))
    return out


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    raise SystemExit("the server did not start in 30 s")


def openloop(port: int, due: list[Request], rate: float) -> dict[str, float]:
    """Send request i at start + i/rate whatever came back before (a new connection when every
    open one is busy); each latency is timed from when the request was due."""
    return asyncio.run(_openloop(port, due, rate))


async def _openloop(port: int, due: list[Request], rate: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    failed = 0
    start = loop.time() + 0.2

    async def one(i: int, raw: bytes) -> None:
        nonlocal failed
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        status, conn = b"", None
        while not status:  # an idle connection the server closed: send again on a new one
            conn = idle.pop() if idle and conn is None else await asyncio.open_connection("127.0.0.1", port)
            try:
                conn[1].write(raw)
                status = await conn[0].readline()
            except ConnectionError:
                status = b""
        length = 0
        while (header := await conn[0].readline()) not in (b"\r\n", b""):
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
        await conn[0].readexactly(length)
        latencies.append(loop.time() - (start + i / rate))
        failed += b" 200 " not in status
        idle.append(conn)

    raws = [b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % len(body)
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n" + body
            for body, headers in due]
    await asyncio.gather(*(one(i, raw) for i, raw in enumerate(raws)))
    for _, writer in idle:
        writer.close()
    q = statistics.quantiles(latencies, n=100)
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "failed": failed}


def process_tree_rss(root: int) -> dict[int, tuple[str, int]]:
    """{pid: (role, RSS in kB)} for `root` and every process under it (Linux's /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    out = {}
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kb = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
        role = "master" if pid == root else "jobs" if b"\0worker\0" in cmdline else "web"
        out[pid] = (role, kb)
    return out


def process_tree_cpu(root: int) -> dict[str, float]:
    """{role: CPU seconds (user + system)} used so far by the processes under `root`, by role."""
    out: dict[str, float] = {}
    for pid, (role, _kb) in process_tree_rss(root).items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def main() -> None:
    """`python bench/loadgen.py PORT RATE COUNT FIRST_ID SECRET`: the open-loop run in a process
    of its own (its own interpreter: the benchmark's other threads can't delay its sends)."""
    port, rate, count, first, secret = sys.argv[1:6]
    due = bodies(secret, int(count), int(first))
    print(json.dumps(openloop(int(port), due, float(rate))))


if __name__ == "__main__":
    main()
