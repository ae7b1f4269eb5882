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
import sys
import threading
import time
from collections.abc import Callable
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
    # X-Forwarded-* are believed as trusted_proxies says, in the app (ProxyFix): gunicorn's own
    # handling (which trusts X-Forwarded-Proto from loopback by default) is off.
    "forwarded_allow_ips": "",
    "secure_scheme_headers": {},
    "accesslog": "-",
    "logger_class": "certhook.logs.AccessLog",
    "access_log_format": ACCESS_TEXT,
}


class JobRunner:
    """One `certhook worker` process, kept running until stop(), or until `serving()` says the
    server is stopping (under systemd the job runner gets the same SIGTERM as the master,
    which calls stop() only once its web processes are done).

    It is started with a bare fork and exec, not subprocess: subprocess waits on a pipe that a
    web process gunicorn forks at that moment would inherit and hold open for ever."""

    def __init__(self, config: str | None, grace: float, serving: Callable[[], bool] = lambda: True):
        self.command = [sys.executable, "-m", "certhook", "worker", "--graceful-timeout", str(grace)]
        if config:
            self.command += ["--config", config]
        self.grace, self.serving = grace, serving
        self.pid = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep, name="certhook-job-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _spawn(self) -> int:
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        pid = os.fork()
        if pid == 0:  # the child does nothing but become the job runner
            try:
                os.execve(sys.executable, self.command, env)
            finally:
                os._exit(127)
        return pid

    def _keep(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self.pid = self._spawn()
            code = _wait(self.pid)
            if self._stopping.wait(RESTART_SECONDS) or not self.serving():
                return
            log.warning("the job runner (pid %d) exited (%s); started again", self.pid, code)

    def stop(self) -> None:
        """SIGTERM the job runner and wait for it: its jobs finish, or are handed back."""
        with self._lock:
            self._stopping.set()
            pid = self.pid
        if not pid or not _alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _wait(pid: int) -> int | None:
    """The exit code (or -signal) of a child; None if another waiter (gunicorn) reaped it."""
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def when_ready(server: Any) -> None:
    """gunicorn's master is ready: start the job runner (CERTHOOK_CONFIG names the settings)."""
    server.certhook_jobs = JobRunner(os.environ.get("CERTHOOK_CONFIG"),
                                     max(server.cfg.graceful_timeout - 3, 0),
                                     serving=lambda: bool(server.LISTENERS))  # closed once stopping
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
