"""The processes that run jobs: each says it is alive (its heartbeat) and keeps its leases alive.

A process beats every third of `lease_seconds`; one silent for longer than a lease has stopped
(or hangs) and its jobs are being taken over. /healthz names such processes for a day, then
they are forgotten; a process that stops cleanly leaves at once.
"""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from ..db import Database
from ..models import processes
from .queue import Queue

FORGET_AFTER = 24 * 3600


def process_id() -> str:
    """host:pid:random; the prefix of every lease the process takes."""
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Silent:
    id: str
    host: str
    pid: int
    role: str
    heartbeat_at: float


def _join(conn: Connection, pid: str, role: str, now: float) -> None:
    conn.execute(insert(processes).values(id=pid, host=socket.gethostname()[:255], pid=os.getpid(),
                                          role=role, started_at=now, heartbeat_at=now))


def register(db: Database, pid: str, role: str, now: float) -> None:
    with db.write() as conn:
        _join(conn, pid, role, now)


def beat(queue: Queue, pid: str, role: str, owners: Collection[str], now: float) -> None:
    """The heartbeat: this process is alive, and the jobs it runs stay its own."""
    with queue.db.write() as conn:
        seen = conn.execute(update(processes).where(processes.c.id == pid)
                            .values(heartbeat_at=now)).rowcount
        if not seen:  # forgotten after a long silence (a suspended machine): say so again
            _join(conn, pid, role, now)
        queue.renew(conn, owners, now)
        conn.execute(delete(processes).where(processes.c.heartbeat_at < now - FORGET_AFTER))


def leave(queue: Queue, pid: str, owners: Collection[str], now: float) -> int:
    """A clean stop: hand back the jobs not finished, and leave the list. How many went back."""
    with queue.db.write() as conn:
        released = queue.release(conn, owners, now)
        conn.execute(delete(processes).where(processes.c.id == pid))
    return released


def census(conn: Connection, now: float, lease_seconds: float) -> tuple[int, list[Silent]]:
    """How many processes beat within a lease, and the ones whose heartbeat stopped."""
    alive = conn.execute(select(func.count()).select_from(processes).where(
        processes.c.heartbeat_at >= now - lease_seconds)).scalar_one()
    silent = [Silent(r.id, r.host, r.pid, r.role, r.heartbeat_at) for r in conn.execute(
        select(processes).where(processes.c.heartbeat_at < now - lease_seconds)
        .order_by(processes.c.heartbeat_at))]
    return alive, silent
