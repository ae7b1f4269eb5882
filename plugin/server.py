"""gunicorn for `certhook serve`: the web app, with the job workers in each web process."""
from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from .pipeline import start_worker

log = logging.getLogger(__name__)

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
    """Start the background job workers beside the web app, once it's loaded."""
    worker.certhook_jobs = start_worker(worker.wsgi.extensions["certhook"])


def worker_exit(server: Any, worker: Any) -> None:
    jobs = getattr(worker, "certhook_jobs", None)
    if jobs is not None:
        jobs.stop(wait=True)


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
