"""gunicorn for `certhook serve`: the web app, with the job workers in each web process."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from .pipeline import start_worker

log = logging.getLogger(__name__)
STOP_MARGIN = 3  # seconds kept from gunicorn's graceful timeout to hand back leases

DEFAULTS: dict[str, Any] = {
    "bind": "127.0.0.1:8000",
    "workers": 2,
    "worker_class": "gthread",
    "threads": 8,
    "timeout": 30,
    "graceful_timeout": 20,
    "keepalive": 5,
    # Several certhook instances on one host would fight over gunicorn's one control socket.
    "control_socket_disable": True,
}


def post_worker_init(worker: Any) -> None:
    """Start the background job workers beside the web app, once it's loaded.

    On SIGTERM they begin to stop at once, beside gunicorn finishing its requests, within the
    same graceful timeout (less a margin to hand back the leases before gunicorn's kill).
    """
    jobs = worker.certhook_jobs = start_worker(worker.wsgi.extensions["certhook"], role="serve")
    grace = max(worker.cfg.graceful_timeout - STOP_MARGIN, 0)
    stopping = threading.Thread(target=jobs.stop, args=(grace,), name="certhook-stop")
    gunicorn_exit = signal.getsignal(signal.SIGTERM)

    def on_sigterm(sig: int, frame: Any) -> None:
        if stopping.ident is None:  # not started yet: a second SIGTERM changes nothing
            stopping.start()
        gunicorn_exit(sig, frame)  # type: ignore[operator]

    signal.signal(signal.SIGTERM, on_sigterm)


def worker_exit(server: Any, worker: Any) -> None:
    """The worker process ends (after SIGTERM, or a quick stop): hand back what's unfinished."""
    jobs = getattr(worker, "certhook_jobs", None)
    if jobs is not None:
        jobs.stop(grace=max(worker.cfg.graceful_timeout - STOP_MARGIN, 0))


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, load_app: Any, options: dict[str, Any], with_jobs: bool = True):
        self.load_app = load_app
        self.options = {**DEFAULTS, **options}
        if with_jobs:
            self.options.update(post_worker_init=post_worker_init, worker_exit=worker_exit)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable is new in gunicorn 25.1
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.load_app()
