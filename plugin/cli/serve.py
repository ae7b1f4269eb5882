"""certhook serve and certhook worker: the web server and the background workers."""
from __future__ import annotations

import logging
import os
import signal
import threading

import click

from .. import create_app, logs
from ..jobs.worker import GRACE_SECONDS
from ..pipeline import start_worker
from ..server import PARENT_ENV, Server
from ..settings import Settings
from ..settings_file import source
from .common import config_option, context


def where(settings: Settings, bind: str) -> str:
    """The one line serve starts with: where it is, where the admin token is (never the token)."""
    shadow = [s.id for s in settings.shops if s.shadow]
    parts = [f"certhook serves http://{bind}/" + (f" ({settings.public_url})" if settings.public_url else ""),
             f"sign in with the admin_token from {source(settings.path, 'admin_token')}"]
    if shadow:
        parts.append(f"shops in shadow mode ({', '.join(shadow)}): try certhook demo")
    return "; ".join(parts)


@click.command()
@config_option
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
@click.option("--web-workers", type=int, default=2, show_default=True,
              help="web processes; the jobs run in one more process beside them")
@click.option("--graceful-timeout", type=int, default=int(GRACE_SECONDS), show_default=True,
              help="seconds requests and running jobs get to finish on SIGTERM")
def serve(config: str | None, bind: str, web_workers: int, graceful_timeout: int) -> None:
    """The web server and the background workers, in one command."""
    os.umask(0o077)  # the database and its side files: the service's user's alone
    with context(config) as ch:
        ch.db.upgrade()
        path, log_format = str(ch.settings.path.resolve()), ch.settings.log_format
        line = where(ch.settings, bind)
    os.environ["CERTHOOK_CONFIG"] = path  # for the job runner gunicorn's master starts
    logs.setup(log_format)
    logging.getLogger(__name__).info("%s", line)  # in the log's format (text or JSON lines)
    Server(lambda: create_app(path), {
        "bind": bind, "workers": web_workers, "graceful_timeout": graceful_timeout,
        "access_log_format": logs.ACCESS_JSON if log_format == "json" else logs.ACCESS_TEXT}).run()


@click.command()
@config_option
@click.option("--graceful-timeout", type=float, default=GRACE_SECONDS, show_default=True,
              help="seconds running jobs get to finish on SIGTERM; the rest are handed back")
def worker(config: str | None, graceful_timeout: float) -> None:
    """Only the background workers (for more machines or processes)."""
    os.umask(0o077)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    parent = os.environ.get(PARENT_ENV)
    if parent:  # started by certhook serve: stop when it is gone (killed outright)
        threading.Thread(target=_orphaned, args=(int(parent), stopped), daemon=True).start()
    with context(config) as ch:
        logs.setup(ch.settings.log_format)
        if not parent:  # certhook serve migrated before it started this
            ch.db.upgrade()
        jobs = start_worker(ch, role="serve" if parent else "worker")
        stopped.wait()
        jobs.stop(grace=graceful_timeout)


def _orphaned(parent: int, stopped: threading.Event) -> None:
    while not stopped.wait(1):
        if os.getppid() != parent:
            logging.getLogger(__name__).warning("certhook serve (pid %d) is gone: stopping", parent)
            stopped.set()


COMMANDS = (serve, worker)
