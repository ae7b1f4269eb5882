"""gunicorn settings for running certhook directly: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

`certhook serve` uses the same defaults (certhook/server.py); this file is for setups that want
gunicorn's own command line. Set CERTHOOK_CONFIG to the settings file.
"""
import os

from certhook.server import DEFAULTS, on_exit, when_ready  # noqa: F401  (gunicorn hooks: the job runner)

bind = os.environ.get("CERTHOOK_BIND", DEFAULTS["bind"])
workers = int(os.environ.get("CERTHOOK_WEB_WORKERS", DEFAULTS["workers"]))
worker_class = DEFAULTS["worker_class"]
threads = DEFAULTS["threads"]
timeout = DEFAULTS["timeout"]
graceful_timeout = DEFAULTS["graceful_timeout"]
keepalive = DEFAULTS["keepalive"]
control_socket_disable = DEFAULTS["control_socket_disable"]
forwarded_allow_ips = DEFAULTS["forwarded_allow_ips"]  # trusted_proxies decides, in the app
secure_scheme_headers = DEFAULTS["secure_scheme_headers"]


def on_starting(server):  # type: ignore[no-untyped-def]
    """Apply the migrations once, in the master, before any worker starts."""
    from certhook.context import build
    from certhook.settings import load_settings

    ch = build(load_settings())
    ch.db.upgrade()
    ch.db.dispose()
