"""gunicorn for `certhook serve`: web processes that only answer, and one job runner beside them.

The web processes verify, record and answer; every job runs in one `certhook worker` process
that gunicorn's master starts when it is ready, starts again if it dies, and stops when it
exits. Under systemd (or Ctrl-C, or a test's killpg) the signal reaches the job runner at once,
beside gunicorn; if the master is killed outright, the job runner notices and stops itself.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from .logs import ACCESS_TEXT

log = logging.getLogger(__name__)
PARENT_ENV = "CERTHOOK_PARENT_PID"  # the job runner stops when this process is gone
RESTART_SECONDS = 5  # a job runner that dies is started again after this long

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
    "accesslog": "-",
    "logger_class": "certhook.logs.AccessLog",
    "access_log_format": ACCESS_TEXT,
}


class JobRunner:
    """One `certhook worker` process, kept running until stop()."""

    def __init__(self, config: str | None, grace: float):
        self.command = [sys.executable, "-m", "certhook", "worker", "--graceful-timeout", str(grace)]
        if config:
            self.command += ["--config", config]
        self.grace = grace
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep, name="certhook-job-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self.proc = subprocess.Popen(self.command, env={**os.environ, PARENT_ENV: str(os.getpid())})
            code = self.proc.wait()  # 0 too when gunicorn's master reaped it first
            if not self._stopping.wait(RESTART_SECONDS):  # not stopping: it died, or was stopped alone
                log.warning("the job runner (pid %d) exited (%s); started again", self.proc.pid, code)

    def stop(self) -> None:
        """SIGTERM the job runner and wait for it: its jobs finish, or are handed back."""
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.grace + 5)
        except subprocess.TimeoutExpired:
            proc.kill()


def when_ready(server: Any) -> None:
    """gunicorn's master is ready: start the job runner (CERTHOOK_CONFIG names the settings)."""
    server.certhook_jobs = JobRunner(os.environ.get("CERTHOOK_CONFIG"),
                                     max(server.cfg.graceful_timeout - 3, 0))
    server.certhook_jobs.start()


def on_exit(server: Any) -> None:
    jobs = getattr(server, "certhook_jobs", None)
    if jobs is not None:
        jobs.stop()


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, load_app: Any, options: dict[str, Any], with_jobs: bool = True):
        self.load_app = load_app
        self.options = {**DEFAULTS, **options}
        if with_jobs:
            self.options.update(when_ready=when_ready, on_exit=on_exit)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable is new in gunicorn 25.1
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.load_app()
